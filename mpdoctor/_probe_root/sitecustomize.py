# mpdoctor's probe entry point: first on PYTHONPATH, so every Python of the tree imports it.
#
# Any Python must be able to parse this file (2.7 included: no f-strings, no print). On 3.8+
# with MPDOCTOR_SESSION set it starts the probe (the _mpdoctor_probe package beside it),
# silently doing nothing on any error of its own. Then, on every version, it takes its directory
# off sys.path and imports the sitecustomize it shadows as module `sitecustomize`:
# * found: it runs once, and sys.modules["sitecustomize"] is the user's module;
# * raising: the error reaches site.py, which reports it exactly as without mpdoctor
#   ("Error in sitecustomize; set PYTHONVERBOSE for traceback:" on 3.x,
#   "'import sitecustomize' failed; use -v for traceback" on 2.7);
# * absent: the ImportError for "sitecustomize" reaches site.py, which ignores it, and import
#   leaves no sitecustomize in sys.modules, as without mpdoctor.


def _mpdoctor_read(path, header):
    # The code in byte-code file `path` if it starts with `header`, else None. os.read, not
    # open(): no io objects (about 2 us less per module, warm).
    import os

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            size = os.fstat(fd).st_size
            data = b""
            while len(data) < size:
                chunk = os.read(fd, size - len(data))
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(fd)
    except OSError:
        return None
    if data[:16] != header:
        return None
    import marshal

    try:
        return marshal.loads(memoryview(data)[16:])
    except Exception:  # cut short (a full disk), or unreadable: compile instead
        return None


def _mpdoctor_code(path):
    # (code, cache path) of the probe's source file `path`: from its byte-code cache, else
    # from the session's own cache (SESSION/pyc), else compiled (and cached beside the source
    # as an import would, where it may) and saved there. Without the session's cache, a Python
    # whose version has no cache in the installed copy and may not write one (-B,
    # PYTHONDONTWRITEBYTECODE, a read-only install) compiled the probe in every process: about
    # 4 ms more per spawn child. The session's directory is private to this run and deleted
    # with it, so writing there ignores -B. None when the source cannot be read. 3.8+ only.
    import os
    import sys

    external = sys.modules["_frozen_importlib_external"]
    cached = external.cache_from_source(path)  # honours -O and PYTHONPYCACHEPREFIX
    try:
        source = os.stat(path)
    except OSError:
        return None
    stamp = (int(source.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
    size = (source.st_size & 0xFFFFFFFF).to_bytes(4, "little")
    header = external.MAGIC_NUMBER + bytes(4) + stamp + size
    code = _mpdoctor_read(cached, header)
    if code is not None:
        return code, cached
    session = os.environ.get("MPDOCTOR_SESSION")
    private = os.path.join(session, "pyc", os.path.basename(cached)) if session else None
    code = _mpdoctor_read(private, header) if private else None
    if code is not None:
        return code, cached
    try:
        if sys.dont_write_bytecode:
            with open(path, "rb") as f:
                code = compile(f.read(), path, "exec", dont_inherit=True)
        else:  # as an import would: compiled, and cached beside the source where writable
            code = external.SourceFileLoader("_mpdoctor", path).get_code("_mpdoctor")
    except (OSError, ImportError):
        return None
    if private:
        import _thread
        import marshal

        # Whole or not at all: a process starting beside this one reads the file at any time.
        # One partial file per thread (two threads may compile one module at once), and none
        # taken over from another writer (O_EXCL). Best effort: the code is compiled already.
        partial = "%s.%d.%d" % (private, os.getpid(), _thread.get_ident())
        fd = None
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
            fd = os.open(partial, flags, 0o600)
            try:
                data = memoryview(header + marshal.dumps(code))
                while data:
                    data = data[os.write(fd, data) :]
            finally:
                os.close(fd)
            os.rename(partial, private)
        except Exception:
            if fd is not None:  # ours, not another writer's
                try:
                    os.unlink(partial)
                except Exception:
                    pass
    return code, cached


def _mpdoctor_load(name, path, search=None):
    # Module `name` (a package when `search` lists its directory) from source file `path`
    # through _mpdoctor_code, without importlib's finders: their directory listings, stats and
    # locks cost every process about 75 us per module, the probe being allowed 1 ms. None when
    # the source cannot be read: the caller then imports as usual. The caller holds what
    # importlib would hold (nothing at start-up, when no other thread imports; the import lock
    # in a finder). Python 3.8+ only.
    import sys

    found = _mpdoctor_code(path)
    if found is None:
        return None
    code, cached = found
    external = sys.modules["_frozen_importlib_external"]
    loader = external.SourceFileLoader(name, path)
    spec = sys.modules["_frozen_importlib"].ModuleSpec(name, loader, origin=path)
    spec.has_location = True
    spec.cached = cached
    spec.submodule_search_locations = search
    module = type(sys)(name)
    module.__spec__, module.__loader__ = spec, loader
    module.__file__, module.__cached__ = path, cached
    module.__package__ = name if search is not None else name.rpartition(".")[0]
    if search is not None:
        module.__path__ = search
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _mpdoctor_prepare():
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    if sys.version_info >= (3, 8) and os.environ.get("MPDOCTOR_SESSION"):
        try:
            package = os.path.join(here, "_mpdoctor_probe")
            probe = _mpdoctor_load(
                "_mpdoctor_probe", os.path.join(package, "__init__.py"), [package]
            )
            if probe is None:
                import _mpdoctor_probe as probe
            probe.start(_mpdoctor_load, _mpdoctor_code)
        except Exception:
            pass
    # After the import above: the probe's later imports go through its package __path__.
    norm = os.path.normcase
    sys.path[:] = [p for p in sys.path if not (p and norm(os.path.abspath(p)) == norm(here))]
    if sys.modules.get(__name__) is not None and __name__ == "sitecustomize":
        del sys.modules["sitecustomize"]
        return True
    return False


try:
    _mpdoctor_chain = _mpdoctor_prepare()
except Exception:
    _mpdoctor_chain = False

if _mpdoctor_chain:
    import sitecustomize  # noqa: F401  (the shadowed one; see above)

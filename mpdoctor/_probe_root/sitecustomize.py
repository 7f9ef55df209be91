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


def _mpdoctor_prepare():
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    if sys.version_info >= (3, 8) and os.environ.get("MPDOCTOR_SESSION"):
        try:
            import _mpdoctor_probe

            _mpdoctor_probe.start()
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

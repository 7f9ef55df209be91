"""What the probe does when each watched module has just been imported."""

import _mpdoctor_probe as probe

from . import _role


def on_import(name: str, module) -> None:
    if name == "multiprocessing":
        _mp_event(module)
    elif name == "multiprocessing.process":
        from . import _children

        _children.install(module)
    elif name == "multiprocessing.util":
        from . import _children, _mplog

        _children.watch_bootstrap(module)
        _mplog.setup(module)
    elif name == "multiprocessing.pool":
        from . import _pools

        _pools.watch_pool_class(module)
    elif name == "concurrent.futures.process":
        from . import _pools

        _pools.watch_executor_class(module.ProcessPoolExecutor)
    elif name == "multiprocessing.resource_tracker":
        if _role.role() == "resource-tracker":
            from . import _failures

            _failures.watch_tracker_warnings()
    elif name == "traceback":
        from . import _failures

        _failures.patch_print_exc(module)


def _mp_event(mp) -> None:
    context = mp.context._default_context  # DefaultContext; never fix the method from here
    probe.emit(
        "mp",
        {
            "method": context.get_start_method(allow_none=True),
            "default_method": context._default_context.get_start_method(),
            "role": _role.role(),
        },
    )

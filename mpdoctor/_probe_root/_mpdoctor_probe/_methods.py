"""--start-method (and check --matrix's Windows-like column), loaded only when they are used."""

import os


def force_start_method(mp) -> None:
    """--start-method: change the default context only. The program's set_start_method() and
    get_context(name) still choose, as they would on macOS, Windows or Python 3.14; and since
    nothing fixes the context here, forcing never makes a set_start_method() fail."""
    context = mp.context
    concrete = context._concrete_contexts
    only = os.environ.get("MPDOCTOR_START_METHODS")
    if only:  # a Windows-like run: the other methods do not exist
        keep = only.split(",")
        for name in list(concrete):
            if name not in keep:
                del concrete[name]
        methods = [name for name in keep if name in concrete]

        def get_all_start_methods():
            return list(methods)

        # multiprocessing bound the default context's methods into its namespace at import
        context._default_context.get_all_start_methods = get_all_start_methods
        mp.get_all_start_methods = get_all_start_methods
    method = os.environ.get("MPDOCTOR_START_METHOD")
    default = context._default_context
    if method in concrete and default._actual_context is None:
        default._default_context = concrete[method]

# The Python side of corral's hook runner: loads hook scripts and calls their functions.
# It imports nothing beyond `sys`: every module imported here is paid for at every start
# of a container with Python hooks (`json` alone costs more than the interpreter's start).
import sys

_modules = {}


class _Site:
    """Runs `site` (the installed packages' directories and their .pth files) only once an
    import fails without it: hooks using only the standard library never pay for it."""

    def find_spec(self, name, path=None, target=None):
        sys.meta_path.remove(self)
        import site
        from importlib.machinery import PathFinder

        site.main()
        return PathFinder.find_spec(name, path, target)


sys.meta_path.append(_Site())


class Context:
    """What a hook sees; its attributes are the context's fields. `plan` is made from the
    plan's source when first read: most hooks never read it."""

    def __init__(self, fields, plan):
        self.__dict__.update(fields)
        self._corral_plan = plan

    def __getattr__(self, name):
        # Called only for attributes not set yet.
        if name != "plan":
            raise AttributeError(name)
        self.plan = self._corral_plan() if self._corral_plan is not None else None
        return self.plan

    def __repr__(self):
        fields = ", ".join(
            f"{k}={v!r}" for k, v in self.__dict__.items() if k not in ("plan", "_corral_plan")
        )
        return f"Context({fields})"


def _load(path):
    module = _modules.get(path)
    if module is None:
        with open(path) as f:
            code = compile(f.read(), path, "exec")
        module = type(sys)("corral_hook_" + str(len(_modules)))
        module.__file__ = path
        exec(code, module.__dict__)
        _modules[path] = module
    return module


def points(path, names):
    """The hook points the script at `path` has a function for."""
    module = _load(path)
    return [n for n in names if callable(getattr(module, n.replace("-", "_"), None))]


def run(path, context, plan):
    """Calls the script's function for the context's point with a `Context` made of the
    `context` dict and `plan`, a callable making the plan's dict (or None: no plan). Answers
    (error, answer, plan): the traceback of an exception, else what the function returned and
    the plan as the function left it, or None if it never read the plan."""
    try:
        module = _load(path)
        point = context["point"]
        function = getattr(module, point.replace("-", "_"), None)
        if function is None:
            return None, None, None
        ctx = Context(context, plan)
        if point.startswith(("before-", "after-")):
            ctx.stage = point.split("-", 1)[1]
        answer = function(ctx)
    except BaseException:
        import traceback  # only now: importing it costs milliseconds

        return traceback.format_exc(), None, None
    return None, answer, ctx.__dict__.get("plan")

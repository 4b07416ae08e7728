# The Python side of corral's hook runner: loads hook scripts and calls their functions.
import json
import traceback
import types

_modules = {}


def _load(path):
    module = _modules.get(path)
    if module is None:
        with open(path) as f:
            code = compile(f.read(), path, "exec")
        module = types.ModuleType("corral_hook_" + str(len(_modules)))
        module.__file__ = path
        exec(code, module.__dict__)
        _modules[path] = module
    return module


def points(path, names):
    """The hook points the script at `path` has a function for."""
    module = _load(path)
    return json.dumps([n for n in names if callable(getattr(module, n.replace("-", "_"), None))])


def run(path, context_json):
    """Calls the script's function for the context's point; answers a hook outcome."""
    try:
        module = _load(path)
        context = json.loads(context_json)
        point = context["point"]
        function = getattr(module, point.replace("-", "_"), None)
        if function is None:
            return json.dumps({"action": "continue"})
        ctx = types.SimpleNamespace(**context)
        if point.startswith(("before-", "after-")):
            ctx.stage = point.split("-", 1)[1]
        answer = function(ctx)
    except BaseException:
        return json.dumps({"error": traceback.format_exc()})
    if isinstance(answer, str):
        return json.dumps({"action": "refuse", "reason": answer})
    if point.startswith("before-") and ctx.plan is not None:
        return json.dumps({"action": "change", "plan": ctx.plan})
    return json.dumps({"action": "continue"})

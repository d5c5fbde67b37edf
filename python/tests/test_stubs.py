"""The stub kabase/_native.pyi must match the native module: same classes, same methods and
properties, same parameter names, kinds and defaults (so the two cannot drift)."""

import ast
import inspect
import pathlib

import pytest

from kabase import _native

STUB = pathlib.Path(_native.__file__).with_name("_native.pyi")
if not STUB.exists():  # an editable install keeps the stub in the source tree
    STUB = pathlib.Path(__file__).resolve().parents[1] / "pysrc" / "kabase" / "_native.pyi"

# Methods only present when the build has the matching core feature.
FEATURE_OF = {
    "Table": "HAS_TABLES", "Scanner": "HAS_TABLES", "MutationBuffer": "HAS_TABLES", "Producer": "HAS_TOPICS", "SendFuture": "HAS_TOPICS",
    "Consumer": "HAS_TOPICS", "ConsumerRecord": "HAS_TOPICS", "Stream": "HAS_TOPICS",
}
ENGINE_FEATURE = {
    **{m: "HAS_TABLES" for m in ("create_table", "delete_table", "enable_table", "disable_table", "is_table_enabled",
                                  "list_tables", "table_exists", "describe_table", "table_regions", "compact_table", "table")},
    **{m: "HAS_TOPICS" for m in ("create_topic", "validate_topic", "delete_topic", "create_partitions", "list_topics",
                                  "topic_partitions", "describe_topic", "describe_topic_configs", "alter_topic_configs",
                                  "delete_records")},
    **{m: "HAS_GROUPS" for m in ("list_groups", "describe_group", "group_offsets", "delete_group")},
    **{m: "HAS_TOPICS" for m in ("stream_to", "stream_from", "streams", "stream")},
}


def stub_tree():
    return ast.parse(STUB.read_text())


def stub_classes():
    out = {}
    for node in stub_tree().body:
        if isinstance(node, ast.ClassDef):
            members = {}
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    is_prop = any(isinstance(d, ast.Name) and d.id == "property" for d in item.decorator_list)
                    members[item.name] = ("property", None) if is_prop else ("method", item.args)
            out[node.name] = members
    return out


def stub_params(args):
    """[(name, kind, has_default)] without self/cls."""
    params = []
    pos = args.posonlyargs + args.args
    defaults = [None] * (len(pos) - len(args.defaults)) + list(args.defaults)
    for a, d in zip(pos, defaults):
        params.append((a.arg, "pos", d is not None))
    if args.vararg:
        params.append((args.vararg.arg, "var", False))
    for a, d in zip(args.kwonlyargs, args.kw_defaults):
        params.append((a.arg, "kwonly", d is not None))
    if args.kwarg:
        params.append((args.kwarg.arg, "varkw", False))
    return params[1:] if params and params[0][0] in ("self", "cls") else params


def native_params(obj):
    sig = inspect.signature(obj)
    out = []
    for p in sig.parameters.values():
        if p.name in ("self", "cls", "$self", "$cls", "type", "$type"):
            continue
        kind = {inspect.Parameter.VAR_POSITIONAL: "var", inspect.Parameter.KEYWORD_ONLY: "kwonly",
                inspect.Parameter.VAR_KEYWORD: "varkw"}.get(p.kind, "pos")
        out.append((p.name, kind, p.default is not inspect.Parameter.empty))
    return out


def test_module_names_match():
    classes = stub_classes()
    native_classes = {n for n, v in vars(_native).items() if inspect.isclass(v)}
    assert native_classes <= set(classes), "classes missing from the stub: %s" % (native_classes - set(classes))
    for name in set(classes) - native_classes:
        feat = FEATURE_OF.get(name)
        assert feat and not getattr(_native, feat), "stub names %s, which the module lacks" % name
    for code_name in _native.ERROR_CODES.values():
        assert code_name in classes
    stub_vars = {n.target.id for n in stub_tree().body if isinstance(n, ast.AnnAssign) and n.target.id.isupper() or
                 isinstance(n, ast.AnnAssign) and n.target.id.startswith("__")}
    for v in ("HAS_TABLES", "HAS_FILTERS", "HAS_TOPICS", "HAS_GROUPS", "ERROR_CODES", "__version__"):
        assert v in stub_vars and hasattr(_native, v)


@pytest.mark.parametrize("cls_name", ["Engine", "Table", "Scanner", "MutationBuffer", "Producer", "SendFuture", "Consumer", "ConsumerRecord", "Stream"])
def test_class_members_and_signatures_match(cls_name):
    stub = stub_classes()[cls_name]
    feat = FEATURE_OF.get(cls_name)
    if feat and not getattr(_native, feat):
        pytest.skip("%s is not in this build" % cls_name)
    cls = getattr(_native, cls_name)
    native_members = {n for n in dir(cls) if not n.startswith("_") or n in ("__enter__", "__exit__")}
    for name in native_members:
        assert name in stub or name in ("__new__",), "%s.%s is missing from the stub" % (cls_name, name)
    for name, (kind, args) in stub.items():
        if name == "__new__":
            assert native_params(cls) == stub_params(args), "%s constructor differs" % cls_name
            continue
        if cls_name == "Engine" and name in ENGINE_FEATURE and not getattr(_native, ENGINE_FEATURE[name]):
            assert not hasattr(cls, name)
            continue
        assert hasattr(cls, name), "stub names %s.%s, which the module lacks" % (cls_name, name)
        attr = inspect.getattr_static(cls, name)
        if kind == "property":
            assert not callable(getattr(cls, name)) or type(attr).__name__ == "getset_descriptor", name
            continue
        assert native_params(getattr(cls, name)) == stub_params(args), "%s.%s signature differs" % (cls_name, name)

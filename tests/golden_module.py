"""A golden directory's Python module (``tests/golden/DIR/cases.py``, ``make_goldens.py``) under a name of its
own: several directories have a ``cases.py``, and a plain ``import cases`` gives every test module whichever
directory came first on ``sys.path`` in that run."""
import importlib.util
import os
import sys

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")


def load(directory: str, filename: str = "cases.py"):
    name = f"golden_{directory}_{os.path.splitext(filename)[0]}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, os.path.join(GOLDEN, directory, filename))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module      # dataclasses look their module up there
        spec.loader.exec_module(module)
    return module

"""sample-pkg: a Python package that ships a Pylon component graph."""

from importlib.resources import files


def bundle_dir():
    """The folder holding plan.json and the .compose blob store inside the installed package."""
    return files(__name__) / "_pylon"

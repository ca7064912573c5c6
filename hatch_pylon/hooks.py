"""Hatch plugin registration; the hook itself lives in ``adapters/hatch.py``."""

from hatchling.plugin import hookimpl

from .adapters.hatch import PylonBuildHook, PylonMetadataHook


@hookimpl
def hatch_register_build_hook() -> type[PylonBuildHook]:
    return PylonBuildHook


@hookimpl
def hatch_register_metadata_hook() -> type[PylonMetadataHook]:
    return PylonMetadataHook

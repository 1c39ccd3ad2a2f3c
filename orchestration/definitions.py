"""The Dagster code location: every definition lives in ``defs/``, split by domain."""

import warnings
from pathlib import Path

import dagster as dg
from dagster_shared.record import copy


@dg.definitions
def defs() -> dg.Definitions:
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    # Every asset links to the function that computes it (its page's "Code" reference), whoever
    # defined it; Definitions has no public way to swap its assets, hence the record copy. The
    # folder lists an asset once per module importing it: one copy each, or the keys collide.
    assets = list({id(asset): asset for asset in loaded.assets or ()}.values())
    with warnings.catch_warnings():
        # code references are a beta API: its warning, once per asset, would flood `make up`
        warnings.simplefilter("ignore", dg.BetaWarning)
        return copy(loaded, assets=dg.with_source_code_references(assets))

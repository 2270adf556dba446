"""Buildpack builders (filled in by the buildpacks work; see issue 3)."""


def buildpack_builders() -> list:
    return []

"""Where things happen: points drawn strictly inside the charter's sector polygons."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from typing import Any

import shapely
from shapely.geometry import shape

from contracts.charter import Charter
from contracts.geo import GeoPoint
from contracts.vocabulary import SectorKind

Geometry = Any  # shapely geometries are untyped

#: Six decimals, as a GPS fix is written (about 10 cm).
_DECIMALS = 6
_TRIES = 1000


class Places:
    """The charter's sectors as prepared geometries, and points drawn inside them."""

    def __init__(self, charter: Charter) -> None:
        self.geometries: dict[str, Geometry] = {}
        self.kinds: dict[str, SectorKind] = {}
        self.names: dict[str, str] = {}
        self.areas: dict[str, dict[str, Any]] = {}
        for sector in charter.sectors:
            geometry = shape(sector.geometry.model_dump())
            shapely.prepare(geometry)
            self.geometries[sector.id] = geometry
            self.kinds[sector.id] = sector.kind
            self.names[sector.id] = sector.name
            self.areas[sector.id] = sector.geometry.model_dump(mode="json")

    def of_kind(self, *kinds: SectorKind) -> tuple[str, ...]:
        """Sectors of some kinds, in charter order."""
        return tuple(s for s, k in self.kinds.items() if k in kinds)

    def inside(self, sector: str, point: GeoPoint) -> bool:
        """Whether a point lies strictly inside a sector (never on its edge)."""
        return bool(shapely.contains_xy(self.geometries[sector], point.lon, point.lat))

    def sector_of(self, point: GeoPoint, among: Iterable[str]) -> str | None:
        """The first of `among` that strictly contains the point."""
        return next((s for s in among if self.inside(s, point)), None)

    def point_in(self, sector: str, rng: random.Random) -> GeoPoint:
        """A point drawn uniformly strictly inside a sector."""
        geometry = self.geometries[sector]
        minx, miny, maxx, maxy = geometry.bounds
        for _ in range(_TRIES):
            point = _fix(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
            if self.inside(sector, point):
                return point
        return self.centre(sector)

    def near(self, origin: GeoPoint, sector: str, rng: random.Random, metres: float) -> GeoPoint:
        """A point a few `metres` around `origin`, still strictly inside `sector`."""
        for _ in range(50):
            north = rng.gauss(0.0, metres) / 111_320.0
            east = rng.gauss(0.0, metres) / (111_320.0 * math.cos(math.radians(origin.lat)))
            point = _fix(origin.lon + east, origin.lat + north)
            if self.inside(sector, point):
                return point
        return origin if self.inside(sector, origin) else self.point_in(sector, rng)

    def centre(self, sector: str) -> GeoPoint:
        """A representative point of a sector, strictly inside it."""
        surface = shapely.point_on_surface(self.geometries[sector])
        point = _fix(surface.x, surface.y)
        if not self.inside(sector, point):  # rounding pushed it onto an edge: nudge inward
            centroid = self.geometries[sector].centroid
            point = _fix(centroid.x, centroid.y)
        return point


def _fix(lon: float, lat: float) -> GeoPoint:
    return GeoPoint(lon=round(lon, _DECIMALS), lat=round(lat, _DECIMALS))


def heading(origin: GeoPoint, target: GeoPoint) -> float:
    """Heading from one point to another, degrees clockwise from north, in [0, 360)."""
    east = (target.lon - origin.lon) * math.cos(math.radians(origin.lat))
    north = target.lat - origin.lat
    return round(math.degrees(math.atan2(east, north)) % 360.0, 1) % 360.0


def metres(origin: GeoPoint, target: GeoPoint) -> float:
    """Ground distance between two nearby points (equirectangular, ample at city scale)."""
    east = (target.lon - origin.lon) * math.cos(math.radians(origin.lat)) * 111_320.0
    north = (target.lat - origin.lat) * 111_320.0
    return math.hypot(east, north)

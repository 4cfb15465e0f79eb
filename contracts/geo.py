"""Positions and areas as GeoJSON (WGS 84, longitude first)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Longitude = Annotated[
    float, Field(ge=-180.0, le=180.0, allow_inf_nan=False, description="Longitude, WGS 84 degrees.")
]
Latitude = Annotated[
    float, Field(ge=-90.0, le=90.0, allow_inf_nan=False, description="Latitude, WGS 84 degrees.")
]
Coordinate = tuple[Longitude, Latitude]
Ring = Annotated[list[Coordinate], Field(min_length=4, description="Closed linear ring.")]


class GeoPoint(BaseModel):
    """A point on the ground."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lon: Longitude
    lat: Latitude


def _check_rings(rings: list[list[Coordinate]]) -> None:
    for ring in rings:
        if ring[0] != ring[-1]:
            raise ValueError("a polygon ring must be closed (first point = last point)")


class Polygon(BaseModel):
    """A GeoJSON Polygon: an exterior ring, then holes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["Polygon"] = Field(description="GeoJSON geometry type.")
    coordinates: list[Ring] = Field(min_length=1, description="Exterior ring, then holes.")

    @model_validator(mode="after")
    def _closed(self) -> Polygon:
        _check_rings(self.coordinates)
        return self


class MultiPolygon(BaseModel):
    """A GeoJSON MultiPolygon."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["MultiPolygon"] = Field(description="GeoJSON geometry type.")
    coordinates: list[Annotated[list[Ring], Field(min_length=1)]] = Field(
        min_length=1, description="Polygons, each an exterior ring then holes."
    )

    @model_validator(mode="after")
    def _closed(self) -> MultiPolygon:
        for polygon in self.coordinates:
            _check_rings(polygon)
        return self


Area = Annotated[Polygon | MultiPolygon, Field(discriminator="type")]

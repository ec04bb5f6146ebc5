"""City packs: a city's own facts in one folder (YAML, CSV, Markdown), checked, then loaded."""

from tools.citypack.city import City, city_of, loaded_city, save_city, unnamed_city
from tools.citypack.errors import CityPackError, Problem
from tools.citypack.pack import CityPack, check_pack, read_pack
from tools.citypack.skeleton import write_skeleton

__all__ = [
    "City",
    "CityPack",
    "CityPackError",
    "Problem",
    "check_pack",
    "city_of",
    "loaded_city",
    "read_pack",
    "save_city",
    "unnamed_city",
    "write_skeleton",
]

"""The demo city's map and its departments.

The names come from the pack (``city.yaml``, ``gazetteer.yaml``), the one vocabulary shared by the
documents, the generated data and the tests (the responsibility list document names the same units).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tools.dispatch.location import Gazetteer

_PACK = Path(__file__).parent / "pack"
CITY: str = yaml.safe_load((_PACK / "city.yaml").read_text(encoding="utf-8"))["name"]
_PLACES: dict[str, Any] = yaml.safe_load((_PACK / "gazetteer.yaml").read_text(encoding="utf-8"))["districts"]

# district -> (region code, {street office -> communities}), from the pack's gazetteer
DISTRICTS: dict[str, tuple[str, dict[str, list[str]]]] = {
    district: (d["code"], {s: v["communities"] for s, v in d["streets"].items()})
    for district, d in _PLACES.items()
}
ROADS: dict[str, list[str]] = {s: v["roads"] for d in _PLACES.values() for s, v in d["streets"].items()}

ESTATES: dict[str, list[str]] = {
    "湖滨街道": ["湖滨花园", "望湖苑", "滨江一号", "水岸名居"],
    "文昌街道": ["文昌小区", "学府雅居", "书香门第", "人民新村"],
    "新华街道": ["新华里", "和平家园", "光明小区", "解放新村"],
    "桃源街道": ["桃源居", "翠竹园", "南岭山庄", "幸福小区"],
    "北岭街道": ["北岭新村", "石桥人家", "梧桐苑", "建设小区"],
    "创新街道": ["人才公寓一期", "科苑佳园", "云谷里", "智慧城"],
}

STREET_OFFICES = {
    "湖滨街道": "东湖区湖滨街道办事处",
    "文昌街道": "东湖区文昌街道办事处",
    "新华街道": "西城区新华街道办事处",
    "桃源街道": "南山区桃源街道办事处",
    "北岭街道": "北岭区北岭街道办事处",
    "创新街道": f"{next(d for d in DISTRICTS if d.endswith('高新区'))}创新街道办事处",
}

CITY_DEPARTMENTS = [
    "市公安局", "市公安局交通警察支队", "市人力资源和社会保障局", "市医疗保障局", "市住房公积金管理中心",
    "市住房和城乡建设局", "市教育局", "市城市管理局", "市交通运输局", "市民政局", "市卫生健康委员会",
    "市生态环境局", "市市场监督管理局", "市水务局", "市园林绿化局", "市科学技术局", "市工业和信息化局",
    "市商务局", "市财政局", "市政务服务管理局", "市残疾人联合会", "市应急管理局", "市文化广电旅游局",
    f"{CITY}供水集团有限公司", f"{CITY}燃气集团有限公司", f"国网{CITY}供电公司",
]  # fmt: skip

DEPARTMENTS = CITY_DEPARTMENTS + list(STREET_OFFICES.values())


def street_district(street: str) -> str:
    """The district a street office belongs to."""
    return next(d for d, (_, streets) in DISTRICTS.items() if street in streets)


def place_names() -> dict[str, dict[str, list[str]]]:
    """``{district: {street: [communities]}}``: the shape a city's gazetteer file has (JSON)."""
    return {district: streets for district, (_, streets) in DISTRICTS.items()}


def gazetteer() -> Gazetteer:
    """The demo city's gazetteer: districts, streets, communities and roads (the shape of a city's JSON file)."""
    zone = next(d for d in DISTRICTS if d.endswith("高新区"))
    return Gazetteer.from_mapping(place_names(), ROADS, {"高新区": zone})

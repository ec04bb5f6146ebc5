"""The demo city's map and its departments.

The one vocabulary shared by the documents, the generated data and the tests (the
responsibility list document names the same units).
"""

from __future__ import annotations

from tools.dispatch.location import Gazetteer

CITY = "示例市"

# district -> (region code, {street office -> communities})
DISTRICTS: dict[str, tuple[str, dict[str, list[str]]]] = {
    "东湖区": ("990102", {"湖滨街道": ["湖滨社区", "滨江社区", "望湖社区"],
                          "文昌街道": ["文昌社区", "学府社区", "书院社区"]}),
    "西城区": ("990103", {"新华街道": ["新华社区", "和平社区", "光明社区"]}),
    "南山区": ("990104", {"桃源街道": ["桃源社区", "翠竹社区", "南岭社区"]}),
    "北岭区": ("990105", {"北岭街道": ["北岭社区", "石桥社区", "梧桐社区"]}),
    "示例高新区": ("990171", {"创新街道": ["创新社区", "科苑社区", "云谷社区"]}),
}  # fmt: skip

ROADS: dict[str, list[str]] = {
    "湖滨街道": ["湖滨路", "滨江大道", "望湖路", "沿河街"],
    "文昌街道": ["文昌路", "学府路", "书院街", "人民路"],
    "新华街道": ["新华路", "和平路", "光明街", "解放路"],
    "桃源街道": ["桃源路", "翠竹路", "南岭大道", "幸福路"],
    "北岭街道": ["北岭路", "石桥街", "梧桐路", "建设路"],
    "创新街道": ["创新大道", "科苑路", "云谷路", "智慧街"],
}

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
    "创新街道": "示例高新区创新街道办事处",
}

CITY_DEPARTMENTS = [
    "市公安局", "市公安局交通警察支队", "市人力资源和社会保障局", "市医疗保障局", "市住房公积金管理中心",
    "市住房和城乡建设局", "市教育局", "市城市管理局", "市交通运输局", "市民政局", "市卫生健康委员会",
    "市生态环境局", "市市场监督管理局", "市水务局", "市园林绿化局", "市科学技术局", "市工业和信息化局",
    "市商务局", "市财政局", "市政务服务管理局", "市残疾人联合会", "市应急管理局", "市文化广电旅游局",
    "示例市供水集团有限公司", "示例市燃气集团有限公司", "国网示例市供电公司",
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
    return Gazetteer.from_mapping(place_names(), ROADS, {"高新区": "示例高新区"})

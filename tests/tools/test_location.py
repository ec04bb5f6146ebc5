"""Reading where an order is."""

from __future__ import annotations

import pytest

from service.demo_city.geography import DISTRICTS
from tools.dispatch.location import Gazetteer, Location, extract_location

GAZ = Gazetteer.from_mapping({d: dict(streets) for d, (_, streets) in DISTRICTS.items()})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "北岭区建设路98号下水道堵塞",
            Location("北岭区", "", "", "建设路98号"),
        ),  # a district does not imply a street
        ("市民反映：东湖区湖滨街道望湖苑12栋楼道堆满杂物", Location("东湖区", "湖滨街道", "", "望湖苑12栋")),
        ("学府社区有流浪狗", Location("东湖区", "文昌街道", "学府社区", "")),
        ("桃源街道翠竹园3栋停水了", Location("南山区", "桃源街道", "", "翠竹园3栋")),
    ],
)
def test_with_the_city_gazetteer(text: str, expected: Location) -> None:
    assert extract_location(text, GAZ) == expected


def test_another_city_without_a_gazetteer() -> None:
    loc = extract_location("A市西湖区银杏街道梧桐社区人民路12号3栋漏水")
    assert (loc.district, loc.street, loc.community) == ("西湖区", "银杏街道", "梧桐社区")
    assert loc.address.startswith("人民路12号")


def test_nothing_to_find() -> None:
    loc = extract_location("问一下公积金怎么提取", GAZ)
    assert not loc.known
    assert extract_location("社区卫生服务中心约不上号", GAZ).community == ""

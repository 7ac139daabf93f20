"""Loads a demo season over the services' HTTP APIs, as an organizer and its units would, and the provinces'
example feeds (feeds/examples) as their platforms would send them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

from contracts.identity import credit_code_check_character
from infra.auth import TokenService

EXAMPLE_FEEDS = Path(__file__).resolve().parent.parent / "feeds" / "examples"
# the provinces' feeds, then their recommendations to the national season (they name entries of their own feeds)
FEED_FILES = (
    "shanghai-2026.ndjson", "shandong-2026.ndjson", "tibet-2026.ndjson.gz",
    "shanghai-2026-national.ndjson", "shandong-2026-national.ndjson", "tibet-2026-national.ndjson",
)

SHANGHAI_OFFSET = timezone(timedelta(hours=8))  # Asia/Shanghai has kept +08:00 since 1991
DEMO_UNITS = [
    ("上海申达电气设备有限公司", "申达电气", "state_owned", "manufacturing", ["integrated_circuits"]),
    ("上海浦江生物医药股份有限公司", "浦江生物", "private", "manufacturing", ["biomedicine"]),
    ("上海东方航运服务有限公司", "东方航运", "joint_venture", "market_services", ["shipping"]),
    ("上海市第一建筑工程有限公司", "一建工程", "state_owned", "construction", []),
    ("上海智造精工科技有限公司", "智造精工", "private", "specialized_sme", ["high_end_equipment"]),
]


def demo_credit_code(index: int) -> str:
    """A valid unified social credit code (GB 32100-2015 check character) for demo unit `index`."""
    first_17 = f"91310000MA1K{index:04d}X"[:17].ljust(17, "0")
    return first_17 + credit_code_check_character(first_17)


def demo_season(year: int, now: datetime) -> dict[str, Any]:
    def window(start_days: int, end_days: int) -> dict[str, str]:
        return {
            "opens_at": (now + timedelta(days=start_days)).isoformat(),
            "closes_at": (now + timedelta(days=end_days)).isoformat(),
        }

    return {
        "organizer": "310000",
        "organizer_name": "上海市质量协会",
        "year": year,
        "kind": "qc_group",
        "title": f"{year}年上海市质量管理小组活动（演示）",
        "windows": {
            "registration": window(-30, 60),
            "submission": window(-30, 60),
            "recommendation": window(0, 90),
            "review": window(90, 150),
            "notice": window(150, 160),
            "publication": window(160, 170),
        },
        "channels": ["group", "unit", "recommender", "direct"],
    }


def _criteria(*points: tuple[str, str, int]) -> list[dict[str, Any]]:
    return [{"code": code, "label": label, "max_points": maximum} for code, label, maximum in points]


# The demo's scoring forms (评分表) after T/CAQ10201-2020: one for 文审 (资料评审), one for the 发表赛 (发表评审).
DEMO_QC_RUBRICS = [
    {"code": "qc_material", "label": "质量管理小组成果文审评分表", "standard": "T/CAQ10201-2020", "review_form": "material",
     "criteria": _criteria(("topic", "选题", 15), ("process", "活动过程", 45), ("effect", "效果", 25),
                           ("report", "成果报告", 15))},
    {"code": "qc_presentation", "label": "质量管理小组成果发表评审表", "standard": "T/CAQ10201-2020",
     "review_form": "presentation", "criteria": _criteria(("content", "成果内容", 70), ("presentation", "发表", 30))},
]


def shanghai_2020_qc_season() -> dict[str, Any]:
    """The Shanghai 2020 QC season with the stage deadlines of its notice (沪质协 2020, 四、主要节点), as its
    organizer opens it: online submission and recommendation 06-28 to 07-12 22:00 (注: 7月12日22:00在线申报系统
    关闭); 申报材料形式审查 by 07-20; 材料文审 07-20 to 08-10; the 发表赛 in August, which also preselects the
    national candidates (含预选国家级质量管理小组), so it is a gate chosen by the organizer; 推荐国家级质量管理小组
    材料完善申报 by 09-15 for those it preselects; the city results (公布市级质量管理小组结果) in December. The
    notice weighs neither round: they count equally; entries not preselected nationally are graded all the same.
    Registration opens with the notice in June (its date is not printed; 06-03 here).
    """

    def at(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> str:
        return datetime(2020, month, day, hour, minute, second, tzinfo=SHANGHAI_OFFSET).isoformat()

    def window(opens: str, closes: str) -> dict[str, str]:
        return {"opens_at": opens, "closes_at": closes}

    close = at(7, 12, 22)
    shanghai = next(item for item in example_seasons() if item["organizer"] == "310000")
    return {
        "organizer": "310000",
        "organizer_name": "上海市质量协会",
        "year": 2020,
        "kind": "qc_group",
        "title": "2020年上海市质量管理小组活动成果申报/推荐",
        "windows": {
            "registration": window(at(6, 3), close),
            "submission": window(at(6, 28), close),
            "recommendation": window(at(6, 28), close),
            "review": window(at(7, 12, 22), at(9, 15, 23, 59, 59)),
            "publication": window(at(12, 1), at(12, 31, 23, 59, 59)),
        },
        "channels": ["group", "unit", "recommender", "direct"],
        "formal_review": window(close, at(7, 20)),  # 申报材料形式审查: 7月20日前
        "rounds": [
            {"code": "material_review", "label": "文审", "review_form": "material", "judges_per_entry": 3,
             "window": window(at(7, 20), at(8, 10, 23, 59, 59))},  # 材料文审阶段: 7月20日-8月10日
            {"code": "presentation", "label": "发表赛", "review_form": "presentation", "judges_per_entry": 3,
             "window": window(at(8, 1), at(8, 31, 23, 59, 59)),  # 8月（具体时间地点另行通知）
             "gate": {"method": "organizer_choice"}},  # 含预选国家级质量管理小组
            {"code": "national_materials", "label": "推荐国家级材料完善", "weight": None, "assign_on_entry": False,
             "window": window(at(8, 1), at(9, 15, 23, 59, 59))},  # 9月15日前
        ],
        "grade_not_advanced": True,
        "rubrics": DEMO_QC_RUBRICS,
        "grade_bands": shanghai["grade_bands"],
    }


def demo_registration(index: int) -> dict[str, Any]:
    name, short, nature, domain, industries = DEMO_UNITS[index]
    return {
        "credit_code": demo_credit_code(index),
        "unit_name": name,
        "short_name": short,
        "member": index % 2 == 0,
        "unit_nature": nature,
        "key_industries": industries,
        "key_domain": domain,
        "address": f"上海市浦东新区张江路{100 + index}号",
        "postcode": "201203",
        "managing_department": "质量管理部",
        "promoter": {
            "name": ["王伟", "李娜", "张敏", "刘洋", "陈静"][index],
            "department": "质量管理部",
            "title": "质量经理",
            "mobile": f"1391234{5670 + index:04d}",
            "email": f"qc{index}@example.com",
        },
        "intents": ["submitting"],
    }


def example_seasons() -> list[dict[str, Any]]:
    """The seasons the example feeds belong to, as their organizers open them at the national platform."""
    return json.loads((EXAMPLE_FEEDS / "seasons.json").read_text(encoding="utf-8"))


def national_example_season() -> dict[str, Any]:
    """The national association's 2026 QC season that receives the provinces' recommendations (CAQ-2026-qc_group):
    provinces submit by 2026-08-31, a quota of 2 per province (3 for Shanghai), reviewed on T/CAQ10201-2020's forms."""
    return json.loads((EXAMPLE_FEEDS / "national-2026.json").read_text(encoding="utf-8"))


def load_demo(
    registration_url: str, tokens: TokenService, *, now: datetime | None = None, feed_urls: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Open the demo season (once) and register the demo units; with the services' URLs, load the example feeds too."""
    now = now or datetime.now(UTC)
    # The Shanghai example feed's results are graded by the Shanghai bands; in its year the demo season is that season.
    shanghai = next(item for item in example_seasons() if item["organizer"] == "310000")
    season = demo_season(now.year, now) | {"grade_bands": shanghai["grade_bands"]}
    organizer = tokens.mint("demo-secretariat", "organizer", "310000")
    with httpx.Client(base_url=registration_url, timeout=30) as client:
        response = client.post("/seasons", json=season, headers={"Authorization": f"Bearer {organizer}"})
        if response.status_code not in (201, 409):
            raise RuntimeError(f"opening the demo season failed: {response.status_code} {response.text}")
        season_id = f"310000-{now.year}-qc_group"
        for index in range(len(DEMO_UNITS)):
            form = demo_registration(index)
            unit = tokens.mint(f"promoter-{index}", "unit", form["credit_code"])
            response = client.post(
                f"/seasons/{season_id}/registrations", json=form, headers={"Authorization": f"Bearer {unit}"}
            )
            if response.status_code not in (200, 201):
                raise RuntimeError(f"registering {form['unit_name']} failed: {response.status_code} {response.text}")
        # the Shanghai 2020 QC season, with its notice's real deadlines and review rounds, as example data
        response = client.post("/seasons", json=shanghai_2020_qc_season(), headers={"Authorization": f"Bearer {organizer}"})
        if response.status_code not in (201, 409):
            raise RuntimeError(f"opening the Shanghai 2020 QC season failed: {response.status_code} {response.text}")
    loaded: dict[str, Any] = {"season_id": season_id, "units": len(DEMO_UNITS), "example_seasons": ["310000-2020-qc_group"]}
    if feed_urls is not None:
        loaded["feeds"] = load_example_feeds(feed_urls, tokens)
    return loaded


def load_example_feeds(urls: Mapping[str, str], tokens: TokenService, *, wait_seconds: float = 120.0) -> dict[str, Any]:
    """Open the example feeds' seasons and the national season (once), then post the three provinces' feeds and
    their recommendations to the national season; answers each feed's totals."""
    from qcp.feed_cli import post_feed, province_in, read_feed, split_by_service

    national = {"Authorization": f"Bearer {tokens.mint('demo-caq', 'national', 'CAQ')}"}
    with httpx.Client(base_url=urls["registration"], timeout=30) as client:
        for season in [*example_seasons(), national_example_season()]:
            organizer = tokens.mint("demo-secretariat", "organizer", season["organizer"])
            response = client.post("/seasons", json=season, headers={"Authorization": f"Bearer {organizer}"})
            if response.status_code not in (201, 409):
                raise RuntimeError(f"opening {season['title']} failed: {response.status_code} {response.text}")
    season_ids = [f"{item['organizer']}-{item['year']}-{item['kind']}"
                  for item in [*example_seasons(), national_example_season()]]
    deadline = time.monotonic() + wait_seconds
    for service in ("submission", "review"):
        with httpx.Client(base_url=urls[service], timeout=30) as client:
            for season_id in season_ids:
                while client.get(f"/seasons/{season_id}", headers=national).status_code != 200:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{service} has not learnt of season {season_id} within {wait_seconds:.0f}s")
                    time.sleep(0.5)

    async def post_all() -> dict[str, Any]:
        clients = {service: httpx.AsyncClient(base_url=urls[service], timeout=600)
                   for service in ("registration", "submission", "review")}
        try:
            totals = {}
            for name in FEED_FILES:
                text = read_feed(EXAMPLE_FEEDS / name)
                province = province_in(split_by_service(text)[1]) or ""
                token = tokens.mint(f"feed-{province}", "feed", province)
                totals[name] = (await post_feed(text, clients, token, wait_seconds=wait_seconds))["total"]
            return totals
        finally:
            for client in clients.values():
                await client.aclose()

    return asyncio.run(post_all())

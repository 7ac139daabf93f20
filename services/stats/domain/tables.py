"""The reports laid out as the seeds' tables: sheets with a Chinese title, lines above the table,
Chinese column headers and rows. CSV and XLSX render the same sheets (services/stats/adapters/export.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contracts.recommended import RECOMMENDATION_DECLARATION
from contracts.scored import ReviewStage
from services.stats.domain.season_reports import Report

Cell = str | int | None


@dataclass
class Sheet:
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    heading: list[str] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)


def _counts(title: str, rows: list[dict[str, Any]], first: str) -> Sheet:
    return Sheet(title, [first, "代码", "数量"], [[row["label"], row["code"], row["count"]] for row in rows])


def overview_sheets(report: Report) -> list[Sheet]:
    heading = [f"{report['title']}（{report['season_id']}）", f"主办单位：{report['organizer_name']}"]
    return [
        Sheet("概况", ["项目", "数量"], [
            ["报名单位数", report["registrations"]], ["其中经省级数据接口", report["feeds"]["fed_registrations"]],
            ["申报成果数", report["entries"]], ["其中经省级数据接口", report["feeds"]["fed_entries"]],
            ["已发证书数", report["certificates"]], ["省级推荐成果数（数据接口）", report["provincial"]["recommended"]],
            ["省级评定成果数（数据接口）", report["provincial"]["results"]],
            ["数据接口隔离记录（待更正）", report["feeds"]["quarantined_open"]],
            ["数据接口隔离记录（已更正）", report["feeds"]["quarantined_resolved"]],
        ], heading),
        _counts("按单位性质", report["registrations_by_unit_nature"], "单位性质"),
        _counts("按重点领域", report["registrations_by_key_domain"], "重点领域"),
        _counts("按重点产业", report["registrations_by_key_industry"], "重点产业"),
        Sheet("按类别与类型", ["活动类别", "课题/班组类型", "数量"],
              [[row["kind_label"], row["type_label"], row["count"]] for row in report["entries_by_kind_and_type"]]),
        Sheet("推荐名额", ["推荐单位", "推荐单位代码", "报名单位数", "每单位名额", "推荐名额", "已推荐", "直接申报", "剩余名额",
                           "省级推荐（数据接口，不占名额）"],
              [[row["name"], row["recommender_id"], row["units"], row["per_unit_max"], row["quota"], row["recommended"],
                row["accepted_directly"], row["remaining"], row["provincial_recommended"]] for row in report["recommenders"]]),
        Sheet("评审进度", ["阶段", "数量"], [[row["label"], row["count"]] for row in report["review_progress"]]),
        Sheet("等级分布", ["等级", "数量"], [[row["label"], row["count"]] for row in report["grades"]]),
    ]


def _value(table: dict[str, Any], key: str) -> Cell:
    if key in table["rates"]:
        value = table["rates"][key]["value"]
        return None if value is None else f"{value}%"
    return table["figures"].get(key)


def statistics_sheets(report: Report, recommender_id: str | None = None) -> list[Sheet]:
    """One recommending unit's table as the seeds print it (统计项目 | 单位 | 数量), or the organizer's summary:
    a row per recommending unit and the 合计 with the rates re-derived."""
    items = report["items"]
    title = report.get("form_title") or "活动统计表"
    if recommender_id is not None:
        row = next(item for item in report["recommenders"] if item["recommender_id"] == recommender_id)
        period = row["period"]
        return [Sheet(
            "统计表", ["序号", "统计项目", "单位", "数量"],
            [[index, item["label"], item["unit"], _value(row, item["key"])] for index, item in enumerate(items, start=1)],
            [f"{title}（{period['first_month']} 至 {period['last_month']}）", f"推荐单位：{row['name'] or recommender_id}"],
            text_lines(row),
        )]
    columns = ["推荐单位", "统计期"] + [f"{item['label']}（{item['unit']}）" for item in items]
    rows: list[list[Cell]] = [
        [row["name"] or row["recommender_id"], f"{row['period']['first_month']}..{row['period']['last_month']}"]
        + [_value(row, item["key"]) for item in items]
        for row in report["recommenders"]
    ]
    rows.append(["合计", None] + [_value(report["total"], item["key"]) for item in items])
    texts = [f"{row['name'] or row['recommender_id']}：{line}" for row in report["recommenders"] for line in text_lines(row)]
    return [Sheet("统计表汇总", columns, rows, [f"{report['organizer_name']}（{report['season_id']}）活动统计表汇总"],
                  [RATES_NOTE if not any(item.get("rate") == "typed" for item in items) else TYPED_RATES_NOTE, *texts])]


RATES_NOTE = "注：普及率、成果率由合计的分子、分母重新计算，不取平均。"
TYPED_RATES_NOTE = "注：普及率、成果率按各推荐单位填报数据列示，合计不重新计算。"
TEXT_LABELS = {"features_and_suggestions": "本年度QC小组活动主要特点与建议",
               "features_and_problems": "本年度主要特点与问题", "filled_by": "填表人", "filled_on": "填表日期"}
CONTACT_LABELS = (("department", "工作归口部门"), ("head", "负责人"), ("name", "联系人"), ("mobile", "手机"),
                  ("email", "邮箱"), ("address", "通信地址"), ("postcode", "邮编"))
REVIEW_FORM_LABELS = {"presentation": "发表评审", "material": "资料评审", "on_site": "现场评审"}
EXCHANGE_LABELS = {"joint_with_qc": "与QC小组合开", "separate": "单独举办"}


def text_lines(row: dict[str, Any]) -> list[str]:
    """A filing's text items under its table: 主要特点, 评审及交流形式, 发表会, contacts, filler."""
    texts = row.get("texts") or {}
    lines = [f"{TEXT_LABELS[key]}：{texts[key]}" for key in ("features_and_suggestions", "features_and_problems")
             if texts.get(key)]
    forms = [REVIEW_FORM_LABELS.get(item, item) for item in row.get("review_forms") or []]
    if row.get("exchange"):
        forms.append(EXCHANGE_LABELS.get(row["exchange"], row["exchange"]))
    if forms:
        lines.append("评审及交流形式：" + "、".join(forms))
    meeting = row.get("presentation_meeting")
    if meeting:
        lines.append("发表会：" + "，".join(f"{label}{meeting.get(key)}" for key, label in (
            ("registered_teams", "报名班组数"), ("presented_teams", "发表班组数"), ("held_on", "时间"),
            ("place", "地点"), ("attendees", "参会人数")) if meeting.get(key) is not None))
    contact = texts.get("contact") or {}
    if contact:
        lines.append("；".join(f"{label}：{contact[key]}" for key, label in CONTACT_LABELS if contact.get(key)))
    lines += [f"{TEXT_LABELS[key]}：{texts[key]}" for key in ("filled_by", "filled_on") if texts.get(key)]
    return lines


def recommendation_sheets(report: Report) -> list[Sheet]:
    name = report["recommender_name"] or report["recommender_id"]
    entries = Sheet(
        "推荐表", ["企业名称", "小组/班组名称", "人数", "材料评价（符合标准程度/特色/不足之处）", "打分", "排序", "评委", "推荐意见"],
        [[row["unit_name"], row["entry_name"], row["size"],
          " / ".join(filter(None, (row["conformance"], row["features"], row["shortcomings"]))) or None,
          row["score"], row["rank"], "、".join(row["judges"]) or None, row["opinion"]] for row in report["entries"]],
        [f"推荐单位：{name}", "一、推荐成果"],
    )
    entries.rows.append([None, "人数总计", report["total_size"], None, None, None, None, None])
    judges = Sheet("评委名单", ["姓名", "工作单位", "TGQ 评委证书号", "通讯地址", "E-mail", "手机"],
                   [[item.get(key) for key in ("name", "work_unit", "certificate_no", "address", "email", "mobile")]
                    for item in report["judges"]], ["二、评委名单"])
    declaration = report.get("declaration_text") or RECOMMENDATION_DECLARATION
    judges.footer = ["三、推荐声明", declaration, f"填表人：{report['filled_by'] or ''}",
                     f"电话：{report['phone'] or ''}", f"填表日期：{report['filled_on'] or ''}"]
    return [entries, judges]


def workload_sheets(report: Report) -> list[Sheet]:
    stages = report.get("rounds") or [{"code": stage.value, "label": stage.label} for stage in ReviewStage]
    columns = ["评委编号", "姓名", "工作单位", "TGQ 评委证书号"]
    for stage in stages:
        columns += [f"{stage['label']}已分配", f"{stage['label']}已评分"]
    columns += ["待评分", "修改次数"]
    rows = [
        [row["judge_id"], row["name"], row["work_unit"], row["certificate_no"]]
        + [row["stages"][stage["code"]][key] for stage in stages for key in ("assigned", "scored")]
        + [row["to_score"], row["revisions"]]
        for row in report["judges"]
    ]
    return [Sheet("评委工作量", columns, rows, [f"评委工作量（{report['season_id']}）"])]


# the national overview's counts: 其中 columns split a count by where it came from (a province's feed or directly)
COUNTED_COLUMNS = [
    ("registrations", "报名单位数"), ("fed_registrations", "其中数据接口报名"), ("direct_registrations", "其中直接报名"),
    ("entries", "申报成果数"), ("fed_entries", "其中数据接口申报"), ("direct_entries", "其中直接申报"),
    ("recommended", "已推荐"), ("platform_recommended", "其中本平台推荐"), ("provincial_recommended", "其中省级推荐"),
    ("graded", "已评定等级"), ("provincial_results", "其中省级评定"), ("published", "已发布"),
    ("quarantined_open", "隔离待更正"), ("quarantined_resolved", "隔离已更正"),
]
COUNTED_HEADERS = [header for _, header in COUNTED_COLUMNS]
COUNTED_KEYS = [key for key, _ in COUNTED_COLUMNS]


def national_overview_sheets(report: Report) -> list[Sheet]:
    provinces = Sheet("各省汇总", ["组织单位", "组织单位代码", "活动类别", "活动编号", *COUNTED_HEADERS],
                      [[row["organizer_name"], row["organizer"], row["kind"], row["season_id"]]
                       + [row[key] for key in COUNTED_KEYS] for row in report["provinces"]],
                      [f"{report['year']} 年全国汇总（各省）"])
    kinds = Sheet("按活动类别", ["活动类别", "省份数", *COUNTED_HEADERS],
                  [[row["kind_label"], row["provinces"]] + [row[key] for key in COUNTED_KEYS] for row in report["by_kind"]])
    kinds.rows.append(["合计", report["total"]["provinces"]] + [report["total"][key] for key in COUNTED_KEYS])
    grades = Sheet("省级评定等级分布", ["组织单位", "组织单位代码", "活动类别", "活动编号", "等级", "数量"],
                   [[row["organizer_name"], row["organizer"], row["kind"], row["season_id"], grade["label"], grade["count"]]
                    for row in report["provinces"] for grade in row["provincial_results_by_grade"]],
                   [f"{report['year']} 年各省评定结果（经省级数据接口，省级评定）"])
    national = Sheet("推荐全国", ["组织单位", "组织单位代码", "活动类别", "活动编号", "报送全国", "全国形式审查通过", "全国已评定"],
                     [[row["organizer_name"], row["organizer"], row["kind"], row["season_id"], row.get("national_sent"),
                       row.get("national_accepted"), row.get("national_graded")] for row in report["provinces"]],
                     [f"{report['year']} 年各省推荐全国情况（平台推荐与数据接口）"])
    return [provinces, kinds, grades, national]


def national_statistics_sheets(report: Report) -> list[Sheet]:
    sheets = []
    for table in report["tables"]:
        items = table["items"]
        rows: list[list[Cell]] = [
            [row["organizer_name"], row["organizer"]] + [_value(row, item["key"]) for item in items]
            for row in table["provinces"]
        ]
        rows.append(["全国合计", None] + [_value(table["total"], item["key"]) for item in items])
        sheets.append(Sheet(f"{table['kind_label']}统计表", ["省份", "代码"] + [f"{item['label']}（{item['unit']}）" for item in items],
                            rows, [f"{report['year']} 年全国{table['kind_label']}活动统计表（各省汇总）"],
                            ["注：比率由各省合计的分子、分母重新计算，不取平均。"]))
    return sheets


def national_intake_sheets(report: Report) -> list[Sheet]:
    """National flow (issue 10): a national season's intake per province."""
    columns = ["省份代码", "全国推荐名额", "报送数", "其中平台推荐", "其中数据接口", "形式审查通过", "已评定等级", "剩余名额"]
    rows: list[list[Cell]] = [[row["province"], row["quota"], row["sent"], row["via_platform"], row["via_feed"],
                               row["accepted"], row["graded"], row["remaining"]] for row in report["provinces"]]
    total = report["total"]
    rows.append(["合计", None, total["sent"], total["via_platform"], total["via_feed"], total["accepted"], total["graded"],
                 None])
    return [Sheet("各省报送", columns, rows, [f"{report['title']}（{report['season_id']}）：各省推荐全国情况"])]


LAYOUTS: dict[str, Callable[[Report], list[Sheet]]] = {
    "provinces": national_intake_sheets,
    "overview": overview_sheets,
    "statistics": statistics_sheets,
    "recommendation-summary": recommendation_sheets,
    "judge-workload": workload_sheets,
    "national-overview": national_overview_sheets,
    "national-statistics": national_statistics_sheets,
}

"""How the audit shows events: which entries an event concerns, its labels, its instants in UTC and Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from contracts import Envelope
from contracts.codes import Channel, Role

SHANGHAI = ZoneInfo("Asia/Shanghai")

# What the associations call each event; types without a label are shown by their code alone.
EVENT_LABELS = {
    "SeasonOpened": "活动开启",
    "SeasonWindowChanged": "活动时间窗口调整",
    "SeasonProfileAdjusted": "活动表单调整",
    "UnitRegistered": "单位报名",
    "UnitRegistrationAmended": "报名信息修改",
    "RecommenderRegistered": "推荐单位登记",
    "RecommenderQuotaRaised": "推荐名额增加",
    "RecommenderCancelled": "取消推荐资格",
    "TeamNameSuffixApproved": "核准班组名称结尾",
    "JudgeRegistered": "评委登记",
    "EntrySubmitted": "成果申报",
    "EntryAmended": "申报材料修改",
    "EntryWithdrawn": "申报撤回",
    "UnitConfirmed": "单位确认",
    "StatisticsFiled": "统计表报送",
    "StatisticsAmended": "统计表修改",
    "WorkSummaryFiled": "工作总结报送",
    "WorkSummaryAmended": "工作总结修改",
    "EntryRecommended": "推荐",
    "EntryAcceptedDirectly": "秘书处确认直接申报",
    "RecommendationRevoked": "撤销推荐",
    "RecommendationWithdrawn": "推荐无效（推荐单位被取消推荐资格）",
    "FormalReviewPassed": "形式审查通过",
    "FormalReviewFailed": "形式审查不通过",
    "FormalReviewResubmitted": "更正后重新提交形式审查",
    "JudgesAssigned": "评委分配",
    "AssignmentBlocked": "评委分配受阻",
    "ScoreRecorded": "评分",
    "ScoreRevised": "修改评分",
    "EntryGraded": "成果定级",
    "EntryRegraded": "成果重新定级",
    "EntryAdvanced": "晋级",
    "EntryNotAdvanced": "未晋级",
    "GuidingUnitsApproved": "指导单位审定",
    "NoticeOpened": "面向社会公示",
    "ObjectionFiled": "异议提出",
    "ObjectionResolved": "异议处理",
    "EntryResultWithdrawn": "撤销成果",
    "EntryPublished": "成果发布",
    "ResultsPublished": "结果发布",
    "NationalRecommendationMade": "推荐全国",
    "NationalEntryReceived": "全国活动接收省级推荐",
    "ProvincialRecommendationRecorded": "省级推荐（数据接口）",
    "ProvincialRecommendationAmended": "省级推荐修改（数据接口）",
    "ProvincialResultRecorded": "省级评审结果（数据接口）",
    "ProvincialResultAmended": "省级评审结果修改（数据接口）",
    "FeedRecordQuarantined": "数据接口记录隔离",
    "FeedQuarantineResolved": "隔离记录已更正",
    "FeedBatchReported": "数据接口批次报告",
}


def entry_ids_of(envelope: Envelope) -> list[str]:
    """The entries an event concerns: submission's entry events and review's events name them in the payload; a
    recommendation to the national level concerns the provincial entry and the national entry it became."""
    payload = envelope.payload
    named = [payload.get("entry_id"), *(payload.get("entry_ids") or []), payload.get("national_entry_id"),
             payload.get("provincial_entry_id")]
    return sorted({item for item in named if isinstance(item, str) and item})


def provincial_entry_of(entry_id: str, events: list[Envelope]) -> str | None:
    """The provincial entry a national entry came from (its NationalEntryReceived), so its history shows the path."""
    for envelope in events:
        if envelope.type == "NationalEntryReceived" and envelope.payload.get("entry_id") == entry_id:
            return envelope.payload.get("provincial_entry_id")
    return None


def instant(value: datetime) -> dict[str, str]:
    """An instant in UTC and as users in the season read it (Asia/Shanghai)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return {
        "utc": aware.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "shanghai": aware.astimezone(SHANGHAI).isoformat(),
    }


def causes_of(envelopes: list[Envelope]) -> list[str]:
    """The events that caused an entry's events without naming the entry (a RecommenderCancelled behind a
    RecommendationWithdrawn): they belong in the entry's history too."""
    named = {str(item.payload.get("cause_event_id")) for item in envelopes if item.payload.get("cause_event_id")}
    return sorted(named - {str(item.event_id) for item in envelopes})


def recorded_order(envelope: Envelope) -> tuple[datetime, str, int]:
    """Events of several services in the order they were recorded; one aggregate's by version."""
    return envelope.recorded_at, str(envelope.aggregate_id), envelope.aggregate_version


def history_item(envelope: Envelope, delivery: dict[str, Any]) -> dict[str, Any]:
    """One event as an auditor reads it: what, when, who in which role, through which channel, from where."""
    return {
        "event_id": str(envelope.event_id),
        "type": envelope.type,
        "type_label": EVENT_LABELS.get(envelope.type),
        "schema_version": envelope.schema_version,
        "occurred_at": instant(envelope.occurred_at),
        "recorded_at": instant(envelope.recorded_at),
        "actor": envelope.actor.model_dump(mode="json") | {"role_label": Role(envelope.actor.role).label},
        "channel": {"code": envelope.channel.value, "label": Channel(envelope.channel).label},
        "source": envelope.source.model_dump(mode="json"),
        "service": delivery.get("service"),
        "topic": delivery.get("topic"),
        "partition": delivery.get("partition"),
        "offset": delivery.get("offset"),
        "aggregate_id": str(envelope.aggregate_id),
        "aggregate_version": envelope.aggregate_version,
        "season_id": envelope.season_id,
        "organizer": envelope.organizer,
        "trace_id": envelope.trace_id,
        "payload": envelope.payload,
    }

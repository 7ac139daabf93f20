"""What registration's routes take besides their bodies: typed dependencies, path and query parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from contracts.registered import RECOMMENDER_ID_PATTERN, SEASON_ID_PATTERN
from infra.http.dependencies import application_of, read_model_of
from services.registration.adapters.read_model import RegistrationReadModel
from services.registration.application import RegistrationApplication

Application = Annotated[RegistrationApplication, Depends(application_of)]
ReadModel = Annotated[RegistrationReadModel, Depends(read_model_of)]

SeasonId = Annotated[str, Path(pattern=SEASON_ID_PATTERN, description="e.g. 310000-2024-qc_group")]
CreditCodePath = Annotated[str, Path(pattern=r"^\s*[0-9A-Za-z]{18}\s*$", description="统一社会信用代码")]
RecommenderIdPath = Annotated[str, Path(pattern=RECOMMENDER_ID_PATTERN)]
RecommenderIdQuery = Annotated[str | None, Query(pattern=RECOMMENDER_ID_PATTERN)]
RoundCode = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="e.g. initial_review")]

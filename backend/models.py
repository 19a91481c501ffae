"""Imports every domain's models so `Base.metadata` is complete (Alembic, tests)."""

from backend.audit import models as audit_models  # noqa: F401
from backend.auth import models as auth_models  # noqa: F401
from backend.campaigns import models as campaign_models  # noqa: F401
from backend.core import models as core_models  # noqa: F401
from backend.core.db import Base
from backend.fraud import models as fraud_models  # noqa: F401
from backend.interactions import models as interaction_models  # noqa: F401
from backend.notifications import models as notification_models  # noqa: F401
from backend.products import models as product_models  # noqa: F401
from backend.referrals import models as referral_models  # noqa: F401
from backend.relayer import models as relayer_models  # noqa: F401
from backend.rewards import models as reward_models  # noqa: F401
from backend.settlement import models as settlement_models  # noqa: F401
from indexer import models as indexer_models  # noqa: F401

metadata = Base.metadata

"""Settings of hot issues (``HOTLINE_HOT_…``), apart from the main settings.

Defaults, and why:

- ``min_reporters = 3`` enterprises within ``window_days = 14``: three unrelated
  enterprises with one problem in two weeks is already more than chance in a city's
  hotline, and is the bar many 12345 centres use for 同类诉求 reports; two would raise an
  issue for every coincidence.
- ``link_days = 30``: a problem reported again within a month is still the same problem
  (the group stays open to join), even when the raising window has passed.
- ``threshold`` and the bonuses: chosen on the dev half of the labelled set
  (``make eval-hot``), never on the held-out half.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict

from hotline.hot.engine import EngineConfig


class HotSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_HOT_", extra="ignore")

    enabled: bool = True  # group new tickets as they are created
    min_reporters: int = 3
    window_days: int = 14
    link_days: int = 30
    threshold: float = EngineConfig.threshold
    topic_bonus: float = EngineConfig.topic_bonus
    district_bonus: float = EngineConfig.district_bonus
    include_declined: bool = True  # consult questions the knowledge base declined
    announce_every_s: float = 10.0  # how often the gateway looks for issues to announce


@lru_cache(maxsize=1)
def get_hot_settings() -> HotSettings:
    return HotSettings()


def engine_config(settings: HotSettings | None = None) -> EngineConfig:
    s = settings or get_hot_settings()
    return EngineConfig(threshold=s.threshold, topic_bonus=s.topic_bonus,
                        district_bonus=s.district_bonus, link_days=s.link_days,
                        window_days=s.window_days, min_reporters=s.min_reporters)

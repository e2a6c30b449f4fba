"""Settings from the environment (prefix ``HOTLINE_`` unless noted), with embedded defaults.

The defaults run the whole product on one machine: a SQLite file under ``var/``, an
embedded Redis (no ``REDIS_URL``), Rasa and the action server on loopback.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore", populate_by_name=True)

    var_dir: Path = ROOT / "var"
    database_url: str = ""
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "HOTLINE_REDIS_URL")
    )
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_s: float = 30.0
    # Messages one gateway has inside Rasa at once; the others wait their turn, first come
    # first served (bot.rasa_client). 0: no limit.
    rasa_max_inflight: int = 8
    # Token of Rasa's HTTP API (rasa run --auth-token); `hotline run` sets it for the gateway.
    rasa_token: str | None = None
    # The action server's base URL, for the gateway's readiness (its /health); empty: the
    # gateway does not check it (Rasa reaches it through endpoints.yml).
    actions_url: str = ""
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    public_url: str | None = None  # e.g. https://hotline.example.gov.cn (for the webhook)
    telegram_token: str | None = Field(
        default=None, validation_alias=AliasChoices("TELEGRAM_TOKEN", "HOTLINE_TELEGRAM_TOKEN")
    )
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_secret_token: str | None = None
    telegram_mode: str = "polling"  # polling | webhook
    routing_file: Path | None = None
    # Operators (issue 6): when humans answer, how long a console login lasts, transcripts.
    office_hours: str = "Mon-Fri 09:00-18:00"  # or "always"; see hotline.office_hours
    console_session_idle_min: int = 480  # a console login ends after this long unused
    console_secure_cookie: bool | None = None  # None: Secure when the request is https
    # Reverse proxies / load balancers (addresses or networks, comma list) whose
    # X-Forwarded-For is believed, so per-address limits (console login, web-chat flood
    # control) see each client, not the proxy. HOTLINE_CONSOLE_TRUSTED_PROXIES: older name.
    console_trusted_proxies: str = Field(default="", validation_alias=AliasChoices(
        "HOTLINE_TRUSTED_PROXIES", "HOTLINE_CONSOLE_TRUSTED_PROXIES", "console_trusted_proxies"))
    transcript_retention_days: int = 730  # `hotline transcripts purge` deletes older ones
    outbox_retention_days: int = 30  # delivered notifications older than this are deleted
    avg_handle_s: float = 300.0  # a chat's typical handling time, for the queue's wait guess
    # Idle limits (minutes, 0: none) after which hotline.handoff.release_idle gives a chat
    # back to the bot and tells the enterprise: queued with nobody taking it, or with a
    # person and no message either way.
    handoff_queued_idle_min: int = 60
    handoff_human_idle_min: int = 30
    handoff_idle_check_s: float = 60.0  # how often the gateway looks for idle chats
    # A webhook update taken by a gateway that stops answering is handed out again after this
    # many seconds (the holder renews its lease every third of it).
    telegram_inbox_lease_s: float = 30.0
    # Outbound Telegram limits (hotline.send_rate), shared by the replicas through Redis:
    # messages a second in all, a burst per chat (sustained one a second), a group's minute.
    telegram_rate_limit: bool = True
    telegram_msgs_per_s: int = 30
    telegram_chat_burst: int = 3
    telegram_group_msgs_per_min: int = 20
    telegram_rate_margin_s: float = 0.25  # each window kept this much longer, for jitter
    # Logs (hotline.log_context): "json" writes one JSON object a line with the conversation's
    # pseudonym and the message's request id; "text" the usual lines.
    log_format: str = "text"
    log_level: str = "INFO"
    operator_chat_id: int | None = None  # Telegram group announcing escalations (optional)
    operator_group_allow: str = ""  # Telegram user ids allowed to take chats there (comma list)

    def operator_group_users(self) -> frozenset[int] | None:
        """The allow-list of the operator group; None: every member may take chats."""
        ids = [x.strip() for x in self.operator_group_allow.split(",") if x.strip()]
        return frozenset(int(x) for x in ids) if ids else None
    attachment_max_mb: int = 10
    # Flood control of the anonymous web chat (issue 10), see bot/flood.py.
    web_session_msgs_per_min: int = 20
    web_ip_msgs_per_min: int = 120
    web_queued_per_ip: int = 5
    # A connected web page's outbox is polled this often besides being woken (bot.web_wake).
    web_poll_s: float = 2.0

    # The knowledge base (hotline.kb.paths): its sources, its index cache, jieba's user
    # dictionary; empty: the repository's kb/, var/kb_index/, nlu/jieba/userdict.txt.
    kb_dir: str = ""
    kb_index: str = ""
    jieba_userdict: str = ""
    # `hotline staff create-admin` reads the first admin's password from here when set.
    admin_password: SecretStr | None = None
    # `hotline run` (hotline.local.stack): the local services' ports and how long Rasa may load.
    redis_port: int = 6380
    rasa_port: int = 5005
    actions_port: int = 5055
    rasa_ready_timeout: float = 420.0
    # Each Rasa server on a core of its own, the other services on the rest, when the machine
    # has a core to spare (hotline.local.cpus; Linux).
    pin_cpus: bool = True

    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.var_dir / 'hotline.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def current_settings() -> Settings:
    """The settings as the environment is now, uncached: for values read rarely that tools
    and tests may change while the process runs (the knowledge base's paths, office hours,
    the local stack's ports)."""
    return Settings()

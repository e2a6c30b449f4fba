"""Every Redis key the product writes, in one place: the core's and the adapters'.

All live under ``hotline:``; Rasa's trackers and locks use their own databases
(``REDIS_DB``, ``REDIS_LOCK_DB``). A key is built by one function or prefix here, so two
modules reading the same state (a web page's presence: the gateway writes it, the console
reads it) cannot spell it differently.
"""

from __future__ import annotations

# --- conversation modes (hotline.handoff) -------------------------------------------------

HANDOFF = "hotline:handoff"
HANDOFF_QUEUE = f"{HANDOFF}:queue"  # sorted set of queued conversations
HANDOFF_EVENTS = f"{HANDOFF}:events"  # stream of transitions
HANDOFF_OPERATOR = f"{HANDOFF}:operator:"  # + operator: set of the conversations they own
HANDOFF_FALLBACKS = f"{HANDOFF}:fallbacks:"  # + conversation: consecutive-fallback counter


def handoff_state(conversation: str) -> str:
    """Hash of a conversation's mode (:func:`hotline.handoff` checks the id first)."""
    return f"{HANDOFF}:{conversation}"


def handoff_operator(operator: str) -> str:
    return HANDOFF_OPERATOR + operator


def handoff_fallbacks(conversation: str) -> str:
    return HANDOFF_FALLBACKS + conversation


# --- conversations ------------------------------------------------------------------------

LIVE_STREAM = "hotline:live"  # what changed, for the console's live refresh (hotline.live)
SCRIPT = "hotline:script:"  # + conversation: the script (t/s) it last wrote in
PRESENCE = "hotline:presence:"  # + conversation: count of its open web-chat pages
CONFIRM_SHOWN = "hotline:confirm-shown:"  # + conversation
OFFERED = "hotline:offered:"  # + conversation: button payloads offered to it
# Pub/sub channel: "deliver this web conversation's outbox rows now" (bot.web_wake), heard by
# every gateway, since only the one holding the page's websocket can deliver to it.
WEB_WAKE = "hotline:wake:web"
# The gateway allowed to poll Telegram's getUpdates (bot.tg_poller): its name, with a TTL.
TELEGRAM_POLLER = "hotline:telegram:poller"


def script(conversation: str) -> str:
    return SCRIPT + conversation


def presence(conversation: str) -> str:
    return PRESENCE + conversation


def confirm_shown(conversation: str) -> str:
    return CONFIRM_SHOWN + conversation


def offered(conversation: str) -> str:
    return OFFERED + conversation


# --- the gateway --------------------------------------------------------------------------

FLOOD = "hotline:flood:"  # web-chat flood control


def flood_ip(ip: str, window: int | str) -> str:
    return f"{FLOOD}ip:{ip}:{window}"


def flood_session(conversation: str, window: int | str) -> str:
    return f"{FLOOD}s:{conversation}:{window}"


def flood_queued(ip: str) -> str:
    return f"{FLOOD}queued:{ip}"


def callback_data(key: str) -> str:
    """A button payload too long for Telegram's callback data, kept under a short key."""
    return f"hotline:cb:{key}"


def update_seen(handler: str, bot_id: int | str, update_id: int | str) -> str:
    """De-duplication of a Telegram update per handler."""
    return f"hotline:dedupe:{handler}:{bot_id}:{update_id}"


TG_RATE = "hotline:tgrate:"  # outbound Telegram rate limits (hotline.send_rate)


def tg_rate(bot_id: int | str, scope: str) -> str:
    """A sliding window of one bot's sends: ``bot``, ``chat:<id>`` or ``group:<id>``."""
    return f"{TG_RATE}{bot_id}:{scope}"


def tg_rate_pause(bot_id: int | str) -> str:
    """Set while Telegram's flood control (429 retry_after) holds every send of the bot."""
    return f"{TG_RATE}{bot_id}:pause"


OPGROUP = "hotline:opgroup"  # the operators' Telegram group
OPGROUP_NAME = f"{OPGROUP}:name:"  # + operator username: the name they act under there


def opgroup(chat_id: int | str, *parts: object) -> str:
    """A key of one operators' group: ``hotline:opgroup:<chat id>:<part>:…``."""
    return ":".join((OPGROUP, str(chat_id), *(str(p) for p in parts)))


def opgroup_name(username: str) -> str:
    return OPGROUP_NAME + username


# --- the console --------------------------------------------------------------------------

CONSOLE_SESSION = "hotline:console:session:"  # + hash of the session token
LOGIN_LIMIT = "hotline:console:loginlimit:"


def console_session(token_hash: str) -> str:
    return CONSOLE_SESSION + token_hash


def login_limit(ip: str, user: str) -> tuple[str, str, str, str]:
    """The counters of a console login: per address and user, per address, per user, and
    the user's slot."""
    return (f"{LOGIN_LIMIT}ipuser:{ip}|{user}", f"{LOGIN_LIMIT}ip:{ip}",
            f"{LOGIN_LIMIT}user:{user}", f"{LOGIN_LIMIT}slot:{user}")

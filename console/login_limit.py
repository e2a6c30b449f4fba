"""Login rate limits: attackers are slowed down, the owner of an account is not locked out.

Every attempt is counted in Redis *before* its password is checked (``SET NX EX`` + ``INCR``
in one MULTI), so parallel guesses cannot all slip through between a check and a count:

- per client address and account: ``MAX_FAILS_USER`` attempts in ``WINDOW_S``; that address
  is then refused for that account, while the owner logging in from elsewhere still can;
- per client address: ``MAX_FAILS_IP`` attempts on all accounts;
- per account from every address: after ``ACCOUNT_SLOW_AFTER`` failures in the window the
  account takes at most one attempt every ``ACCOUNT_SPACING_S`` seconds (guessing from many
  addresses is slowed down; a refused attempt is not counted against its address).

A successful login forgets its address's attempts on that account. The client address is
the peer's, or — only when the peer is a trusted reverse proxy — the nearest untrusted address
of ``X-Forwarded-For`` (``hotline.client_address``).
"""

from __future__ import annotations

import redis
from fastapi import Request

from hotline import client_address, redis_keys

PREFIX = redis_keys.LOGIN_LIMIT
WINDOW_S = 15 * 60
MAX_FAILS_USER = 5
MAX_FAILS_IP = 20
ACCOUNT_SLOW_AFTER = 10
ACCOUNT_SPACING_S = 2.0
BLOCKED = "登录失败次数过多，请 15 分钟后再试，或联系管理员。"
SLOWED = "该账号近期登录失败较多，请稍候几秒再试。"


def client_ip(request: Request, trusted_proxies: str = "") -> str:
    """The client's address, looking through trusted proxies only."""
    return client_address.resolve(request.client.host if request.client else None,
                                  request.headers.getlist("x-forwarded-for"), trusted_proxies)


def _keys(username: str, ip: str) -> tuple[str, str, str, str]:
    user = username.strip().lower()[:50]
    return redis_keys.login_limit(ip, user)


def _count(pipe: redis.client.Pipeline, key: str) -> None:
    pipe.set(key, 0, ex=WINDOW_S, nx=True)  # the window starts at the first attempt
    pipe.incr(key)


def begin(r: redis.Redis, username: str, ip: str) -> str | None:
    """Count an attempt; a Chinese refusal when it must not be checked, else None."""
    pair, address, user, slot = _keys(username, ip)
    with r.pipeline(transaction=True) as pipe:
        _count(pipe, pair)
        _count(pipe, address)
        pipe.get(user)
        _, pair_n, _, address_n, user_fails = pipe.execute()
    if int(pair_n) > MAX_FAILS_USER or int(address_n) > MAX_FAILS_IP:
        return BLOCKED
    if int(user_fails or 0) >= ACCOUNT_SLOW_AFTER and not r.set(
            slot, 1, px=int(ACCOUNT_SPACING_S * 1000), nx=True):
        _uncount(r, pair, address)
        return SLOWED
    return None


# DECR only keys that still exist (a key past its window must not come back without one).
_UNCOUNT_LUA = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end
return 0
"""


def _uncount(r: redis.Redis, *keys: str) -> None:
    r.eval(_UNCOUNT_LUA, len(keys), *keys)


def failed(r: redis.Redis, username: str, ip: str) -> None:
    """The checked password was wrong: count it against the account from every address."""
    with r.pipeline(transaction=True) as pipe:
        _count(pipe, _keys(username, ip)[2])
        pipe.execute()


def succeeded(r: redis.Redis, username: str, ip: str) -> None:
    """The owner got in: forget this address's attempts on the account."""
    pair, address, _, _ = _keys(username, ip)
    r.delete(pair)
    _uncount(r, address)

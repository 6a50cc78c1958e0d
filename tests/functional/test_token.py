"""Token providers against moto's Secrets Manager and SSM (in-process, fake credentials)."""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from handler.exceptions import TokenUnavailableError
from handler.token import SecretsManagerToken, SsmParameterToken

pytestmark = pytest.mark.functional

TOKEN = "tok-0123456789abcdef0123456789ab"
ROTATED = "tok-fedcba9876543210fedcba987654"


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


class CountingSecrets:
    """Passes calls to a real (moto) client and counts them: shows what the cache saves."""

    def __init__(self, client) -> None:
        self._client = client
        self.calls = 0

    def get_secret_value(self, **kwargs):
        self.calls += 1
        return self._client.get_secret_value(**kwargs)


@pytest.fixture
def secrets(token_aws_clients):
    return token_aws_clients[0]


@pytest.fixture
def ssm(token_aws_clients):
    return token_aws_clients[1]


@pytest.fixture
def secret_id(request) -> str:
    return f"e2p/{_slug(request.node.name)}"


@pytest.fixture
def parameter_name(request) -> str:
    return f"/e2p/{_slug(request.node.name)}"


def _slug(test_name: str) -> str:
    return hashlib.sha256(test_name.encode()).hexdigest()[:16]


def test_plain_secret_string(secrets, secret_id):
    secrets.create_secret(Name=secret_id, SecretString=TOKEN)
    assert SecretsManagerToken(secrets, secret_id, 300).get() == TOKEN


def test_surrounding_whitespace_is_ignored(secrets, secret_id):
    secrets.create_secret(Name=secret_id, SecretString=f"  {TOKEN}\n")
    assert SecretsManagerToken(secrets, secret_id, 300).get() == TOKEN


def test_json_secret_with_a_token_key(secrets, secret_id):
    secrets.create_secret(Name=secret_id, SecretString=json.dumps({"token": TOKEN, "url": "https://x"}))
    assert SecretsManagerToken(secrets, secret_id, 300).get() == TOKEN


def test_ssm_secure_string_is_decrypted(ssm, parameter_name):
    ssm.put_parameter(Name=parameter_name, Value=TOKEN, Type="SecureString")
    assert SsmParameterToken(ssm, parameter_name, 300).get() == TOKEN


def test_missing_secret(secrets):
    provider = SecretsManagerToken(secrets, "e2p/absent", 300)
    with pytest.raises(TokenUnavailableError, match="ResourceNotFoundException") as caught:
        provider.get()
    assert "e2p/absent" in str(caught.value)
    assert caught.value.__cause__ is not None


def test_missing_parameter(ssm):
    with pytest.raises(TokenUnavailableError, match="ParameterNotFound") as caught:
        SsmParameterToken(ssm, "/e2p/absent", 300).get()
    assert caught.value.__cause__ is not None


def test_cached_until_max_age_then_the_rotated_value(secrets, secret_id):
    # GIVEN a token read once, then rotated in Secrets Manager
    secrets.create_secret(Name=secret_id, SecretString=TOKEN)
    client = CountingSecrets(secrets)
    clock = Clock()
    provider = SecretsManagerToken(client, secret_id, 60, clock=clock)
    assert provider.get() == TOKEN
    secrets.put_secret_value(SecretId=secret_id, SecretString=ROTATED)
    # WHEN asked again within max_age: the cached token, no call
    clock.now += 59
    assert provider.get() == TOKEN
    assert client.calls == 1
    # WHEN asked after max_age: the rotated one
    clock.now += 1
    assert provider.get() == ROTATED
    assert client.calls == 2


def test_max_age_zero_reads_every_time(ssm, parameter_name):
    ssm.put_parameter(Name=parameter_name, Value=TOKEN, Type="SecureString")
    provider = SsmParameterToken(ssm, parameter_name, 0)
    assert provider.get() == TOKEN
    ssm.put_parameter(Name=parameter_name, Value=ROTATED, Type="SecureString", Overwrite=True)
    assert provider.get() == ROTATED


def test_invalidate_rereads_at_once(secrets, secret_id):
    secrets.create_secret(Name=secret_id, SecretString=TOKEN)
    clock = Clock()
    provider = SecretsManagerToken(secrets, secret_id, 3600, clock=clock)
    assert provider.get() == TOKEN
    secrets.put_secret_value(SecretId=secret_id, SecretString=ROTATED)
    provider.invalidate()
    assert provider.get() == ROTATED


def test_invalidate_works_for_ssm(ssm, parameter_name):
    ssm.put_parameter(Name=parameter_name, Value=TOKEN, Type="SecureString")
    provider = SsmParameterToken(ssm, parameter_name, 3600, clock=Clock())
    assert provider.get() == TOKEN
    ssm.put_parameter(Name=parameter_name, Value=ROTATED, Type="SecureString", Overwrite=True)
    assert provider.get() == TOKEN
    provider.invalidate()
    assert provider.get() == ROTATED


def test_repr_hides_the_token(secrets, ssm, secret_id, parameter_name):
    secrets.create_secret(Name=secret_id, SecretString=TOKEN)
    ssm.put_parameter(Name=parameter_name, Value=TOKEN, Type="SecureString")
    for provider in (
        SecretsManagerToken(secrets, secret_id, 300),
        SsmParameterToken(ssm, parameter_name, 300),
    ):
        provider.get()
        assert TOKEN not in repr(provider)
        assert TOKEN not in str(provider)
        assert "cached=True" in repr(provider)


@pytest.mark.parametrize(
    "secret_string",
    [
        '{"token": "tok-SECRET-1234", "broken"',  # JSON that does not parse
        '{"tok": "tok-SECRET-1234"}',  # no "token" key
        '{"token": ["tok-SECRET-1234"]}',  # not a string
        "tok-SECRET 1234",  # a space cannot go in a header as-is
        "tok-SECRET-1234\r\nX-Other: 1",  # header injection
        "tok-SECRET-1234\u00e9",  # not ASCII
        "   ",
    ],
)
def test_unusable_secrets_are_refused_without_quoting_them(secrets, secret_string, secret_id):
    secrets.create_secret(Name=secret_id, SecretString=secret_string)
    with pytest.raises(TokenUnavailableError) as caught:
        SecretsManagerToken(secrets, secret_id, 300).get()
    error = caught.value
    assert secret_id in str(error)
    # Neither the message nor anything chained to it carries the secret text.
    chain = [error, error.__cause__, error.__context__ if not error.__suppress_context__ else None]
    for item in chain:
        if item is not None:
            assert "SECRET-1234" not in repr(item)
            assert "SECRET-1234" not in repr(vars(item))


def test_binary_secret_is_refused(secrets, secret_id):
    secrets.create_secret(Name=secret_id, SecretBinary=TOKEN.encode())
    with pytest.raises(TokenUnavailableError, match="SecretString"):
        SecretsManagerToken(secrets, secret_id, 300).get()


def test_unreachable_endpoint(token_aws_env, secret_id):
    # No moto here: an endpoint nobody listens on gives a BotoCoreError, not a ClientError.
    client = boto3.client(
        "secretsmanager",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=boto3.session.Config(retries={"max_attempts": 1}, connect_timeout=0.5),
    )
    with pytest.raises(TokenUnavailableError, match="EndpointConnectionError") as caught:
        SecretsManagerToken(client, secret_id, 300).get()
    assert caught.value.__cause__ is not None


def test_concurrent_readers_share_one_fetch(secrets, secret_id):
    # GIVEN delivery workers asking for the token at the same moment on a cold cache
    secrets.create_secret(Name=secret_id, SecretString=TOKEN)
    client = CountingSecrets(secrets)
    provider = SecretsManagerToken(client, secret_id, 300)
    start = threading.Barrier(8)

    def read() -> str:
        start.wait(timeout=5)
        return provider.get()

    with ThreadPoolExecutor(max_workers=8) as pool:
        tokens = list(pool.map(lambda _: read(), range(8)))
    # THEN one of them reads the secret and all get its value
    assert tokens == [TOKEN] * 8
    assert client.calls == 1

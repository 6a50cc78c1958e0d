"""Names of the environment variables the handler reads, in one place.

The central CloudFormation template sets exactly these; a test reads the template and this module
to keep the two in step.
"""

from typing import Final

PANTHER_URL: Final = "E2P_PANTHER_URL"
TOKEN_SECRET_ID: Final = "E2P_TOKEN_SECRET_ID"
TOKEN_PARAMETER_NAME: Final = "E2P_TOKEN_PARAMETER_NAME"
TOKEN_CACHE_SECONDS: Final = "E2P_TOKEN_CACHE_SECONDS"
ALLOW_INSECURE_HTTP: Final = "E2P_ALLOW_INSECURE_HTTP"
CA_BUNDLE: Final = "E2P_CA_BUNDLE"
CONNECT_TIMEOUT_SECONDS: Final = "E2P_CONNECT_TIMEOUT_SECONDS"
READ_TIMEOUT_SECONDS: Final = "E2P_READ_TIMEOUT_SECONDS"
MAX_ATTEMPTS: Final = "E2P_MAX_ATTEMPTS"
DELIVERY_CONCURRENCY: Final = "E2P_DELIVERY_CONCURRENCY"
DEAD_LETTER_QUEUE_URL: Final = "E2P_DEAD_LETTER_QUEUE_URL"
ORG_LOOKUP_ROLE_ARN: Final = "E2P_ORG_LOOKUP_ROLE_ARN"
ACCOUNTS_FILE: Final = "E2P_ACCOUNTS_FILE"
ACCOUNTS_FILE_MODE: Final = "E2P_ACCOUNTS_FILE_MODE"
ACCOUNT_CACHE_SECONDS: Final = "E2P_ACCOUNT_CACHE_SECONDS"
ACCOUNT_TAG_KEYS: Final = "E2P_ACCOUNT_TAG_KEYS"
IDEMPOTENCY_TABLE: Final = "E2P_IDEMPOTENCY_TABLE"
IDEMPOTENCY_TTL_SECONDS: Final = "E2P_IDEMPOTENCY_TTL_SECONDS"
# The organisation's mappings file (s3://bucket/key or a path), read at cold start; empty: built-in only.
MAPPINGS_URI: Final = "E2P_MAPPINGS_URI"
# Coverage (handler.coverage): the table of heartbeats and open watchdog alerts (forwarder and watchdog),
# then what the watchdog alone reads (the scheduled function's environment).
COVERAGE_TABLE: Final = "E2P_COVERAGE_TABLE"
EVENT_BUS_ARN: Final = "E2P_EVENT_BUS_ARN"
COVERAGE_UNITS: Final = "E2P_COVERAGE_UNITS"
COVERAGE_REGIONS: Final = "E2P_COVERAGE_REGIONS"
MANAGEMENT_ACCOUNT_ID: Final = "E2P_MANAGEMENT_ACCOUNT_ID"
MANAGEMENT_REGIONS: Final = "E2P_MANAGEMENT_REGIONS"
STACKSET_NAME: Final = "E2P_STACKSET_NAME"
HEARTBEAT_MINUTES: Final = "E2P_HEARTBEAT_MINUTES"
MISSED_HEARTBEATS: Final = "E2P_MISSED_HEARTBEATS"
WATCHED_QUEUE_URLS: Final = "E2P_WATCHED_QUEUE_URLS"
READ_ENABLED_REGIONS: Final = "E2P_READ_ENABLED_REGIONS"
# The account directory snapshot (s3://bucket/key) the scheduled refresh writes and the forwarder
# reads; how often the forwarder reads it again; the scheduled function it asks for a refresh;
# how the node names the account (name | alias | alias-or-name | id).
DIRECTORY_SNAPSHOT: Final = "E2P_DIRECTORY_SNAPSHOT"
DIRECTORY_SNAPSHOT_SECONDS: Final = "E2P_DIRECTORY_SNAPSHOT_SECONDS"
DIRECTORY_REFRESH_FUNCTION: Final = "E2P_DIRECTORY_REFRESH_FUNCTION"
NODE_NAME: Final = "E2P_NODE_NAME"
# The scheduled refresh only: the alias-reader role's name in every account, how old an alias may
# get before it is read again, and how many accounts are read at once.
ALIAS_ROLE_NAME: Final = "E2P_ALIAS_ROLE_NAME"
ALIAS_REFRESH_SECONDS: Final = "E2P_ALIAS_REFRESH_SECONDS"
ALIAS_CONCURRENCY: Final = "E2P_ALIAS_CONCURRENCY"
ALIAS_READS_PER_RUN: Final = "E2P_ALIAS_READS_PER_RUN"

# Powertools reads these itself; listed so the template test knows they are expected.
POWERTOOLS_SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"
POWERTOOLS_METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"
LOG_LEVEL: Final = "POWERTOOLS_LOG_LEVEL"

ALL_HANDLER_VARIABLES: Final = (
    PANTHER_URL,
    TOKEN_SECRET_ID,
    TOKEN_PARAMETER_NAME,
    TOKEN_CACHE_SECONDS,
    ALLOW_INSECURE_HTTP,
    CA_BUNDLE,
    CONNECT_TIMEOUT_SECONDS,
    READ_TIMEOUT_SECONDS,
    MAX_ATTEMPTS,
    DELIVERY_CONCURRENCY,
    DEAD_LETTER_QUEUE_URL,
    ORG_LOOKUP_ROLE_ARN,
    ACCOUNTS_FILE,
    ACCOUNTS_FILE_MODE,
    ACCOUNT_CACHE_SECONDS,
    ACCOUNT_TAG_KEYS,
    IDEMPOTENCY_TABLE,
    IDEMPOTENCY_TTL_SECONDS,
    MAPPINGS_URI,
    COVERAGE_TABLE,
    DIRECTORY_SNAPSHOT,
    DIRECTORY_SNAPSHOT_SECONDS,
    DIRECTORY_REFRESH_FUNCTION,
    NODE_NAME,
    POWERTOOLS_SERVICE_NAME,
    POWERTOOLS_METRICS_NAMESPACE,
    LOG_LEVEL,
)

# Panther's JSON body parser refuses anything larger (PANTHER-API.md).
PANTHER_MAX_BODY_BYTES: Final = 4096

# What the scheduled function's directory-refresh task reads (handler.config.load_refresh_settings).
DIRECTORY_REFRESH_VARIABLES: Final = (
    DIRECTORY_SNAPSHOT,
    ORG_LOOKUP_ROLE_ARN,
    ACCOUNT_TAG_KEYS,
    ALIAS_ROLE_NAME,
    ALIAS_REFRESH_SECONDS,
    ALIAS_CONCURRENCY,
    ALIAS_READS_PER_RUN,
)

# The scheduled function's watchdog task (handler.scheduled.watchdog) reads these.
WATCHDOG_VARIABLES: Final = (
    COVERAGE_TABLE,
    EVENT_BUS_ARN,
    ORG_LOOKUP_ROLE_ARN,
    COVERAGE_UNITS,
    COVERAGE_REGIONS,
    MANAGEMENT_ACCOUNT_ID,
    MANAGEMENT_REGIONS,
    STACKSET_NAME,
    HEARTBEAT_MINUTES,
    MISSED_HEARTBEATS,
    WATCHED_QUEUE_URLS,
    READ_ENABLED_REGIONS,
)

# The source of the marked test events of `e2p send-test-event` and `e2p verify` (not a variable:
# the pipeline logs their arrival, which the CLI reads back from the function's log group).
TEST_EVENT_SOURCE: Final = "events2panther.test"

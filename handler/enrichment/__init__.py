"""Account enrichment: who an account id is (name, IAM alias, OU path, selected tags).

- `account`: the AccountInfo record and NodeNaming (E2P_NODE_NAME).
- `source`: the AccountSource protocol (a whole directory in one `load()`), and EmptySource.
- `snapshot` + `snapshot_source`: the directory snapshot (gzip JSON in S3) the forwarder reads in one
  GetObject; `refresh_request`: asking the scheduled refresh for accounts it lacks; `changes`: which
  accounts an account-change event names.
- `refresh` (+ `alias_reader`, `organizations_account`): the scheduled refresh that writes the
  snapshot (handler.scheduled.directory_refresh is its entry point).
- `organizations_source` + `ou_tree`: the directory from Organizations, through a role in the
  management account (`assumed_role` makes that role's client).
- `static_file`: the accounts file (JSON or YAML); `layered`: the file over another source.
- `directory`: AccountDirectory, the container-lifetime cache the pipeline looks accounts up in.
- `build`: build_directory, the wiring from the function's settings.

Nothing here is imported by this package's __init__: boto3 stays out of the import path of the
offline CLI (`e2p map --accounts`) which only needs `static_file`.
"""

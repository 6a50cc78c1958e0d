"""Account enrichment: who an account id is (name, alias, OU path, selected tags).

- `account`: the AccountInfo record.
- `source`: the AccountSource protocol (a whole directory in one `load()`), and EmptySource.
- `organizations_source` + `ou_tree`: the directory from Organizations, through a role in the
  management account (`assumed_role` makes that role's client).
- `static_file`: the accounts file (JSON or YAML); `layered`: the file over Organizations.
- `directory`: AccountDirectory, the container-lifetime cache the pipeline looks accounts up in.
- `build`: build_directory, the wiring from the function's settings.

Nothing here is imported by this package's __init__: boto3 stays out of the import path of the
offline CLI (`e2p map --accounts`) which only needs `static_file`.
"""

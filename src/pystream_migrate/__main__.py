from pystream_migrate.cli import entry

entry()

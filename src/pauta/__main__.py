from pauta.cli import entry

entry()

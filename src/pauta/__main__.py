from pauta.cli import main

main()

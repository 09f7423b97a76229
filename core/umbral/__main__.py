from umbral.cli import main

main()

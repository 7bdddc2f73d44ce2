"""``python -m trainlens`` runs the CLI."""

from trainlens.cli import main

main()

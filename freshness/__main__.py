from freshness.cli import main

main()

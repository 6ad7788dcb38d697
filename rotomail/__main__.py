from rotomail.cli import main

main()

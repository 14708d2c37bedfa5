from thagen.cli import main

main()

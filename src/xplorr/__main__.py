from xplorr.cli import main

main()

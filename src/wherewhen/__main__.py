from wherewhen.cli import main

main()

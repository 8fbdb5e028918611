from stockscan.cli import main

main()

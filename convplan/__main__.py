from convplan.cli.main import run

run()

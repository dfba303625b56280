from orchestrion.cli.main import app

app()

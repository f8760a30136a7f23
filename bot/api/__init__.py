"""HTTP entry points beside the Slack handler: the gate API and the GitHub webhook."""

"""The daemon that runs on bare-metal edge nodes and reports into its EdgeNode. Not built yet."""

"""The listener page (the SDK's iframe) and the SDK's script files, served by the backend."""

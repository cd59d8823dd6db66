"""The harness edge: lmms-eval's calls and files, the task lifecycle both harnesses use, discovery."""

"""What each app tab computes, without Gradio: every function here is tested without the UI."""

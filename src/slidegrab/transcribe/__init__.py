"""Transcription: Whisper engines behind one interface, slide-aware chunks and prompts, writers."""

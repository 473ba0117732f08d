"""Media: video files in and out (PyAV), picture metrics, composed comparison videos."""

#!/usr/bin/env bash
# How the demo scenes in this folder were made from the recordings in ../shared/media
# (run once by a developer; the results are committed). Needs the static ffmpeg of imageio-ffmpeg.
set -euo pipefail
cd "$(dirname "$0")"
MEDIA=${MEDIA:-../../shared/media}
FF=$(python -c "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())")
# AMI meeting tst00 (audio only in the corpus): a waveform video at 640x360, 25 fps, so the preview
# has a real video stream to copy; audio as AAC 48 kHz stereo like a film delivery.
"$FF" -y -hide_banner -loglevel error -i "$MEDIA/pypi_pyannote-audio_tests_ami-meeting_tst00_en.wav" \
  -filter_complex "[0:a]showwaves=s=640x360:mode=cline:rate=25:colors=0x8fb8de,format=yuv420p[v];[0:a]aresample=48000,pan=stereo|c0=c0|c1=c0[a]" \
  -map "[v]" -map "[a]" -c:v libx264 -preset veryfast -crf 32 -g 50 -c:a aac -b:a 128k \
  -metadata:s:a:0 language=eng -movflags +faststart ami_meeting_tst00_en.mp4
# Fish Fillets NG cabin1 (Czech): the shared scene as it is.
cp "$MEDIA/example_fillets-ng_cs_dialogue_640x360_h264_aac.mp4" fillets-ng_cabin1_cs.mp4
cp "$MEDIA/fillets-ng_cs_dialogue_cabin1.en.srt" fillets-ng_cabin1.en.srt

// Read aloud (朗读) on detail pages: the first tap plays the kiosk-made speech, the next tap stops it.
// The audio is generated on the first request (about a second), so the label says Stop at once.
"use strict";

document.querySelectorAll(".speak-button").forEach(function (button) {
  const audio = button.parentElement.querySelector(".speak-audio");
  const label = button.querySelector(".speak-label");
  let speaking = false;

  function show(now) {
    speaking = now;
    label.textContent = now ? button.dataset.stopLabel : button.dataset.readLabel;
  }

  function stop() {
    audio.pause();
    if (audio.readyState > 0) {
      audio.currentTime = 0;
    }
    show(false);
  }

  button.addEventListener("click", function () {
    if (speaking) {
      stop();
      return;
    }
    if (!audio.getAttribute("src")) {
      audio.src = button.dataset.speechSrc;
    }
    show(true);
    audio.play().catch(function (error) {
      // A tap on Stop before the audio arrived aborts play(): that is no failure.
      if (error.name !== "AbortError") {
        stop();
      }
    });
  });
  audio.addEventListener("ended", stop);
  audio.addEventListener("error", function () {
    audio.removeAttribute("src"); // try afresh on the next tap
    show(false);
  });
});

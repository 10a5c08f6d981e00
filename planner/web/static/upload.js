// Drag-and-drop onto the upload box, and the sweep fields shown only for a sweep.
(function () {
  const drop = document.getElementById("drop");
  const file = document.getElementById("file");
  const text = document.getElementById("drop-text");
  const sweep = document.getElementById("sweep-fields");
  const submit = document.getElementById("submit");
  function showName() {
    if (file.files.length) { text.textContent = file.files[0].name; }
  }
  ["dragenter", "dragover"].forEach(function (name) {
    drop.addEventListener(name, function (event) { event.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    drop.addEventListener(name, function (event) { event.preventDefault(); drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (event) {
    if (event.dataTransfer.files.length) { file.files = event.dataTransfer.files; showName(); }
  });
  file.addEventListener("change", showName);
  function kind() {
    const isSweep = document.getElementById("kind-sweep").checked;
    sweep.style.display = isSweep ? "block" : "none";
    submit.textContent = isSweep ? "Upload and sweep" : "Upload and solve";
  }
  document.querySelectorAll("input[name=kind]").forEach(function (r) { r.addEventListener("change", kind); });
  kind();
})();
